"""A 40-line pydantic script: models, validators, serialisation, errors."""
from datetime import date
from enum import Enum
from typing import Optional

from pydantic import BaseModel, Field, ValidationError, field_validator, TypeAdapter


class Role(str, Enum):
    admin = "admin"
    user = "user"


class Address(BaseModel):
    street: str
    city: str
    zip: str = Field(pattern=r"^\d{5}$")


class Person(BaseModel):
    name: str
    born: date
    role: Role = Role.user
    tags: list[str] = []
    address: Optional[Address] = None

    @field_validator("name")
    @classmethod
    def title(cls, v: str) -> str:
        return v.strip().title()


p = Person.model_validate({"name": " ada lovelace ", "born": "1815-12-10", "tags": ["math"],
                           "address": {"street": "St James's Sq", "city": "London", "zip": "12345"}})
print(p.model_dump_json())
print(p.born.year, p.role.value, p.address.city)
try:
    Person(name="x", born="not a date", address={"street": "s", "city": "c", "zip": "12"})
except ValidationError as e:
    print("errors:", sorted(".".join(map(str, err["loc"])) for err in e.errors()))
print(TypeAdapter(list[int]).validate_json("[1, 2, 3]"))
print(sorted(Person.model_json_schema()["properties"]))
