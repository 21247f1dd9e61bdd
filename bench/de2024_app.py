"""A DE2024-style peer: the course lab's serving, a pickle.load-ed model's predict per request on Flask's dev server.

python -m bench.de2024_app PORT MODEL_PKL   (benchmark only: pickle.load runs whatever the file says, which is
why the web app never does it; here the file is the model the benchmark has just trained itself)
"""

import pickle
import sys

from flask import Flask, jsonify, request


def create_app(model_path: str) -> Flask:
    """The lab's app: the model loaded once with pickle, one POST route calling predict."""
    app = Flask(__name__)
    with open(model_path, "rb") as handle:
        model = pickle.load(handle)  # noqa: S301 - the peer as the lab wrote it, on our own fresh model

    @app.post("/predict")
    def predict():
        years = request.get_json()["years_experience"]
        return jsonify(salary=float(model.predict([[years]])[0]))

    return app


if __name__ == "__main__":
    port, model_path = int(sys.argv[1]), sys.argv[2]
    # The development server, threaded (Flask's default), as `flask run` and app.run() serve the lab.
    create_app(model_path).run(host="127.0.0.1", port=port)
