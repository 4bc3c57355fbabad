import keras

import kbetavae
from kbetavae.data import open_source, training_dataset

images = training_dataset(open_source("replica"), subset=2_000, batch_size=64, seed=0)
model = kbetavae.BetaVAE(beta=4.0, latent_dim=10, seed=0)
model.compile(keras.optimizers.Adam(5e-4))
history = model.fit(images, epochs=2, steps_per_epoch=5)
mu, logvar = model.encode(next(iter(images)))  # the representation: μ of each image
model.save("beta4.keras")  # keras.models.load_model("beta4.keras") gives it back
