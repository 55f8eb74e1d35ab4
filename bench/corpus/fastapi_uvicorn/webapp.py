from fastapi import FastAPI
from pydantic import BaseModel, EmailStr, Field

app = FastAPI(title="corpus")


class User(BaseModel):
    name: str = Field(min_length=1)
    email: EmailStr
    age: int = Field(ge=0, le=150)


@app.get("/api/health")
def health():
    return {"status": "ok"}


@app.post("/api/users")
def create_user(user: User):
    return {"id": 1, **user.model_dump()}
