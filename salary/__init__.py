"""The salary model's domain library: data, fitting, the model store, plots, the model registry."""
