"""pilang, the Player Intelligence Language: reader, evaluator, and front ends."""
__version__ = "0.1.0"
