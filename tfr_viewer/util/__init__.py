"""Alias of Slideflow's `sf.util`: example_pb2 (tf.train.Example without TensorFlow), tfrecord2idx."""

from ..core import example_pb2, tfrecord2idx

__all__ = ["example_pb2", "tfrecord2idx"]
