"""Recipe box: save recipes, find them by ingredient, scale them to more servings."""

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field, field_validator

app = FastAPI(title="Recipe box")

UNITS = {"g", "kg", "ml", "l", "tsp", "tbsp", "cup", "piece", "pinch"}


class Ingredient(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    quantity: float = Field(gt=0, le=10_000)
    unit: str = "piece"

    @field_validator("name")
    @classmethod
    def lower_name(cls, value: str) -> str:
        value = value.strip().lower()
        if not value:
            raise ValueError("ingredient name must not be blank")
        return value

    @field_validator("unit")
    @classmethod
    def known_unit(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(sorted(UNITS))}")
        return value


class RecipeIn(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    servings: int = Field(ge=1, le=100)
    ingredients: list[Ingredient] = Field(min_length=1, max_length=50)
    steps: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("ingredients")
    @classmethod
    def no_duplicates(cls, ingredients: list[Ingredient]) -> list[Ingredient]:
        names = [i.name for i in ingredients]
        if len(names) != len(set(names)):
            raise ValueError("each ingredient may appear only once")
        return ingredients


class Recipe(RecipeIn):
    id: int


recipes: dict[int, Recipe] = {}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/recipes", response_model=Recipe, status_code=201)
async def add_recipe(data: RecipeIn) -> Recipe:
    recipe = Recipe(id=len(recipes) + 1, **data.model_dump())
    recipes[recipe.id] = recipe
    return recipe


@app.get("/recipes", response_model=list[Recipe])
async def find_recipes(
    ingredient: list[str] = Query(default=[], description="recipes using all of these"),
    max_ingredients: int | None = Query(default=None, ge=1),
) -> list[Recipe]:
    wanted = {i.strip().lower() for i in ingredient if i.strip()}
    found = []
    for recipe in recipes.values():
        names = {i.name for i in recipe.ingredients}
        if not wanted <= names:
            continue
        if max_ingredients is not None and len(names) > max_ingredients:
            continue
        found.append(recipe)
    return sorted(found, key=lambda r: r.title.lower())


@app.get("/recipes/{recipe_id}", response_model=Recipe)
async def get_recipe(recipe_id: int, servings: int | None = Query(default=None, ge=1, le=100)) -> Recipe:
    recipe = recipes.get(recipe_id)
    if recipe is None:
        raise HTTPException(status_code=404, detail="recipe not found")
    if servings is None or servings == recipe.servings:
        return recipe
    factor = servings / recipe.servings
    scaled = [
        i.model_copy(update={"quantity": round(i.quantity * factor, 2)}) for i in recipe.ingredients
    ]
    return recipe.model_copy(update={"servings": servings, "ingredients": scaled})


@app.get("/shopping-list")
async def shopping_list(ids: list[int] = Query(default=[])) -> dict[str, float]:
    """Everything needed for several recipes, quantities added up per ingredient and unit."""
    totals: dict[str, float] = {}
    for recipe_id in ids:
        recipe = recipes.get(recipe_id)
        if recipe is None:
            raise HTTPException(status_code=404, detail=f"recipe {recipe_id} not found")
        for item in recipe.ingredients:
            key = f"{item.name} ({item.unit})"
            totals[key] = round(totals.get(key, 0) + item.quantity, 2)
    return dict(sorted(totals.items()))
