"""Pure Keras models: no Prefect, no file I/O beyond Keras' own save and load."""
