"""Kitchen and travel unit converter: lengths, weights, temperatures."""

from fastapi import FastAPI, HTTPException, Query

app = FastAPI(title="Unit converter")

LENGTH_IN_METRES = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "mi": 1609.344}
WEIGHT_IN_GRAMS = {"g": 1.0, "kg": 1000.0, "oz": 28.349523125, "lb": 453.59237}
TEMPERATURES = ("C", "F", "K")


def convert_length(value: float, from_unit: str, to_unit: str) -> float:
    if from_unit not in LENGTH_IN_METRES or to_unit not in LENGTH_IN_METRES:
        raise ValueError("unknown length unit")
    return value * LENGTH_IN_METRES[from_unit] / LENGTH_IN_METRES[to_unit]


def convert_weight(value: float, from_unit: str, to_unit: str) -> float:
    if from_unit not in WEIGHT_IN_GRAMS or to_unit not in WEIGHT_IN_GRAMS:
        raise ValueError("unknown weight unit")
    return value * WEIGHT_IN_GRAMS[from_unit] / WEIGHT_IN_GRAMS[to_unit]


def convert_temperature(value: float, from_unit: str, to_unit: str) -> float:
    if from_unit not in TEMPERATURES or to_unit not in TEMPERATURES:
        raise ValueError("unknown temperature unit")
    if from_unit == "F":
        celsius = (value - 32) * 5 / 9
    elif from_unit == "K":
        celsius = value - 273.15
    else:
        celsius = value
    if celsius < -273.15:
        raise ValueError("below absolute zero")
    if to_unit == "F":
        return celsius * 9 / 5 + 32
    if to_unit == "K":
        return celsius + 273.15
    return celsius


def kind_of(unit: str) -> str:
    if unit in LENGTH_IN_METRES:
        return "length"
    if unit in WEIGHT_IN_GRAMS:
        return "weight"
    if unit in TEMPERATURES:
        return "temperature"
    raise ValueError(f"unknown unit {unit!r}")


def describe(value: float, unit: str, digits: int = 2) -> str:
    if digits < 0 or digits > 10:
        raise ValueError("digits must be between 0 and 10")
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {unit}"


CONVERTERS = {"length": convert_length, "weight": convert_weight, "temperature": convert_temperature}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/convert")
def convert(
    value: float = Query(ge=-1_000_000_000, le=1_000_000_000),
    from_unit: str = Query(max_length=10),
    to_unit: str = Query(max_length=10),
    digits: int = Query(default=2, ge=0, le=10),
) -> dict[str, object]:
    try:
        kind = kind_of(from_unit)
        if kind_of(to_unit) != kind:
            raise ValueError(f"cannot convert {kind} to {kind_of(to_unit)}")
        result = CONVERTERS[kind](value, from_unit, to_unit)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"kind": kind, "result": round(result, digits), "text": describe(result, to_unit, digits)}


@app.get("/units")
def units() -> dict[str, list[str]]:
    return {
        "length": sorted(LENGTH_IN_METRES),
        "weight": sorted(WEIGHT_IN_GRAMS),
        "temperature": list(TEMPERATURES),
    }
