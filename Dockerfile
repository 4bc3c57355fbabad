# A training container for Vertex AI custom jobs (or any Docker host); `kbetavae` is the
# entrypoint, so a job's args are a kbetavae command line:
#
#   docker build -t kbetavae:cpu .
#   docker build -t kbetavae:gpu --build-arg BASE_IMAGE=tensorflow/tensorflow:latest-gpu .
#   docker run --rm kbetavae:cpu train --beta=4 --epochs=1 --subset=2000 --evaluate --eval-points=1000
#
# BASE_IMAGE is any image with Python >= 3.10 and pip. The CPU default gets TensorFlow from
# PyPI; TensorFlow's GPU images bring TensorFlow with CUDA and cuDNN, which pip then keeps
# (setup.cfg asks for tensorflow>=2.16); pin their tag (e.g. 2.21.0-gpu) to the version
# you test with. The `hypertune` extra is cloudml-hypertune, with which the trials of a
# hyperparameter-tuning job report their metric.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

WORKDIR /opt/kbetavae
# Only what the package is built from (see .dockerignore): no .venv, runs or exports.
COPY pyproject.toml setup.cfg README.md ./
COPY kbetavae ./kbetavae
COPY cli ./cli
RUN python3 -m pip install ".[hypertune]" \
    && kbetavae --help > /dev/null

# Relative --out and --saved-models land here; on Vertex AI the AIP_* directories apply.
WORKDIR /workspace
ENTRYPOINT ["kbetavae"]
CMD ["--help"]
