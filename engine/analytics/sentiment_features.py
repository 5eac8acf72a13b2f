"""What the packaged sentiment model reads, shared by its training script and by scoring: hashed word n-grams
of the text with its game-language markers, hashed character n-grams, and the embedder's vector.

Hashing keeps the model a few files of weights: no vocabulary to ship, the same columns for any text."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import gametext

LABELS = ["negative", "neutral", "positive"]
WORD_FEATURES, CHAR_FEATURES, LANGUAGE_FEATURES = 2 ** 17, 2 ** 17, 2 ** 16
TOKENS = r"(?u)__\w+|\b\w+\b|[:;][()DPp]|<3"
# Steam's language names -> ISO 639-1, as language.detect names them
STEAM_LANGUAGES = {"english": "en", "schinese": "zh", "tchinese": "zh", "russian": "ru", "koreana": "ko",
                   "german": "de", "french": "fr", "spanish": "es", "latam": "es", "brazilian": "pt",
                   "portuguese": "pt", "japanese": "ja", "polish": "pl", "turkish": "tr", "italian": "it",
                   "dutch": "nl", "swedish": "sv", "danish": "da", "finnish": "fi", "norwegian": "nb", "czech": "cs",
                   "ukrainian": "uk", "hungarian": "hu", "romanian": "ro", "thai": "th", "vietnamese": "vi",
                   "indonesian": "id", "arabic": "ar", "greek": "el", "bulgarian": "bg"}


def _word_vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer
    return HashingVectorizer(n_features=WORD_FEATURES, ngram_range=(1, 2), token_pattern=TOKENS, lowercase=True,
                             alternate_sign=False, norm=None)


def _char_vectorizer(n: int = CHAR_FEATURES, ngrams: tuple[int, int] = (2, 4)) -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer
    return HashingVectorizer(n_features=n, analyzer="char_wb", ngram_range=ngrams, lowercase=True,
                             alternate_sign=False, norm=None)


def counts(texts: list[str], chars: bool = True) -> Any:
    """Word (with markers) and character n-gram counts, side by side (sparse); without `chars` the character
    columns are there and empty (the same column layout either way)."""
    from scipy import sparse
    words = _word_vectorizer().transform([gametext.analysed(t) for t in texts])
    if not chars:
        return sparse.hstack([words, sparse.csr_matrix((len(texts), CHAR_FEATURES), dtype=words.dtype)]).tocsr()
    return sparse.hstack([words, _char_vectorizer().transform([gametext.normalise(t) for t in texts])]).tocsr()


def tfidf_of(c: Any, idf: np.ndarray) -> Any:
    from sklearn.preprocessing import normalize
    c = c.astype(np.float32)
    c.data = np.log1p(c.data)  # sublinear term frequency
    return normalize(c.multiply(idf.astype(np.float32)).tocsr())


def fit_idf(c: Any) -> np.ndarray:
    """Smoothed inverse document frequency of each column of a count matrix."""
    df = np.bincount(c.indices, minlength=c.shape[1])
    return (np.log((1 + c.shape[0]) / (1 + df)) + 1).astype(np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Features:
    """The main model: columns (tf-idf of the hashed counts, alpha * embedding) and one multinomial
    logistic regression over them (coef: classes x columns)."""

    def __init__(self, alpha: float, idf: np.ndarray | None = None, coef: np.ndarray | None = None,
                 intercept: np.ndarray | None = None, chars: bool = True) -> None:
        self.alpha, self.idf, self.coef, self.intercept, self.chars = alpha, idf, coef, intercept, chars

    @classmethod
    def fresh(cls, alpha: float, chars: bool = True) -> Features:
        return cls(alpha, chars=chars)

    @classmethod
    def load(cls, z: Any) -> Features:
        return cls(float(z["alpha"]), z["idf"].astype(np.float32), z["coef"].astype(np.float32),
                   z["intercept"].astype(np.float32), bool(z["chars"]) if "chars" in z else True)

    def _columns(self, texts: list[str], vectors: np.ndarray) -> Any:
        from scipy import sparse
        return sparse.hstack([tfidf_of(counts(texts, self.chars), self.idf),
                              sparse.csr_matrix(self.alpha * np.asarray(vectors, np.float32))]).tocsr()

    def fit_transform(self, texts: list[str], vectors: np.ndarray) -> Any:
        self.idf = fit_idf(counts(texts, self.chars))
        return self._columns(texts, vectors)

    def predict_proba(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """Rows of P(negative), P(neutral), P(positive)."""
        if not texts:
            return np.zeros((0, 3))
        X = self._columns(texts, vectors)
        return softmax(np.asarray(X @ self.coef.T) + self.intercept)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"alpha": np.array(self.alpha), "chars": np.array(self.chars), "idf": self.idf.astype(np.float16),
                "coef": self.coef.astype(np.float16), "intercept": self.intercept}

    def describe(self) -> dict[str, Any]:
        return {"word_ngrams": "1-2, with game-language markers", "word_hash_columns": WORD_FEATURES,
                "char_ngrams": "2-4 within words" if self.chars else "none", "char_hash_columns": CHAR_FEATURES,
                "embedding_weight": self.alpha}


def char_features(texts: list[str]) -> Any:
    """A per-language model's columns: character 1-3-grams (no word splitting: Chinese and Japanese too)."""
    return _char_vectorizer(LANGUAGE_FEATURES, (1, 3)).transform([gametext.normalise(t) for t in texts])


def language_model_scores(m: dict[str, np.ndarray], texts: list[str]) -> np.ndarray:
    """P(positive) of a per-language model (idf, coef, intercept) for each text."""
    if not texts:
        return np.zeros(0)
    X = tfidf_of(char_features(texts), m["idf"])
    z = np.asarray(X @ m["coef"].astype(np.float32)).ravel() + float(np.asarray(m["intercept"]).ravel()[0])
    return 1 / (1 + np.exp(-z))
