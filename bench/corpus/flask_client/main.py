"""A Flask app with templates and a blueprint, exercised through its test client."""
import os

from flask import Blueprint, Flask, jsonify, render_template, request

here = os.path.dirname(os.path.abspath(__file__))
app = Flask(__name__, template_folder=os.path.join(here, "templates"))
api = Blueprint("api", __name__, url_prefix="/api")
ITEMS = {"1": "apple", "2": "pear"}


@api.get("/items/<item_id>")
def item(item_id):
    if item_id not in ITEMS:
        return jsonify(error="not found"), 404
    return jsonify(id=item_id, name=ITEMS[item_id])


@api.post("/echo")
def echo():
    return jsonify(request.get_json())


@app.get("/")
def index():
    return render_template("index.html", items=sorted(ITEMS.values()))


app.register_blueprint(api)

with app.test_client() as client:
    print(client.get("/api/items/1").get_json())
    r = client.get("/api/items/9")
    print(r.status_code, r.get_json())
    print(client.post("/api/echo", json={"a": [1, 2]}).get_json())
    print(client.get("/").get_data(as_text=True).strip())
