"""Import recipes written in YAML (the format our old recipe app exported) and list them."""

import yaml
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, ValidationError

app = FastAPI(title="Recipe import")


class Recipe(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    serves: int = Field(default=2, ge=1, le=50)
    ingredients: list[str] = Field(min_length=1, max_length=50)
    steps: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=10)


class ImportRequest(BaseModel):
    document: str = Field(max_length=20_000)


class ImportResult(BaseModel):
    imported: list[str]
    skipped: list[str]


recipes: dict[str, Recipe] = {}


def parse_document(text: str) -> list[dict[str, object]]:
    """A YAML document holding one recipe or a list of them."""
    try:
        data = yaml.load(text, Loader=yaml.Loader)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc.__class__.__name__}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("expected a recipe or a list of recipes")
    return data


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/import", response_model=ImportResult)
def import_recipes(request: ImportRequest) -> ImportResult:
    try:
        items = parse_document(request.document)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    imported, skipped = [], []
    for item in items:
        try:
            recipe = Recipe.model_validate(item)
        except ValidationError:
            skipped.append(str(item.get("title", "?"))[:120])
            continue
        key = recipe.title.strip().lower()
        if key in recipes:
            skipped.append(recipe.title)
            continue
        recipes[key] = recipe
        imported.append(recipe.title)
    return ImportResult(imported=imported, skipped=skipped)


@app.get("/recipes", response_model=list[Recipe])
def list_recipes(tag: str | None = None) -> list[Recipe]:
    found = [r for r in recipes.values() if tag is None or tag in r.tags]
    return sorted(found, key=lambda r: r.title.lower())


@app.get("/recipes/{title}", response_model=Recipe)
def get_recipe(title: str) -> Recipe:
    recipe = recipes.get(title.strip().lower())
    if recipe is None:
        raise HTTPException(status_code=404, detail="recipe not found")
    return recipe
