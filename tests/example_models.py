"""A tiny MLflow pyfunc model the tests save, register and load back."""

import mlflow.pyfunc


class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n: float):
        self.n = n

    def predict(self, context, model_input, params=None):
        return [value + self.n for value in model_input["x"]]


def save(path, n: float = 10) -> str:
    mlflow.pyfunc.save_model(path=str(path), python_model=AddN(n), pip_requirements=["mlflow"])
    return str(path)
