"""The randomness of scikit-learn, pandas and torch themselves: which of their estimators, methods, functions and layers
draw from a global generator."""

from __future__ import annotations

import ast

from .conditions import loaded_after, no_generator
from .events import END, Event, Position, Scope, call_of, called, on_object
from .syntax import argument, is_constant, is_none, keyword_value, word_set

# scikit-learn's estimators and functions that draw from NumPy's global generator when given no random_state.
SKLEARN_RANDOM = {
    "sklearn.cluster": "AffinityPropagation BisectingKMeans KMeans MiniBatchKMeans SpectralBiclustering "
    "SpectralClustering SpectralCoclustering k_means kmeans_plusplus spectral_clustering",
    "sklearn.covariance": "EllipticEnvelope MinCovDet",
    "sklearn.datasets": "make_biclusters make_blobs make_checkerboard make_circles make_classification make_friedman1 "
    "make_friedman2 make_friedman3 make_gaussian_quantiles make_hastie_10_2 make_low_rank_matrix make_moons "
    "make_multilabel_classification make_regression make_s_curve make_sparse_coded_signal make_sparse_spd_matrix "
    "make_sparse_uncorrelated make_spd_matrix make_swiss_roll",
    "sklearn.decomposition": "DictionaryLearning FactorAnalysis FastICA KernelPCA LatentDirichletAllocation "
    "MiniBatchDictionaryLearning MiniBatchNMF MiniBatchSparsePCA NMF PCA SparsePCA TruncatedSVD dict_learning "
    "dict_learning_online fastica non_negative_factorization",
    "sklearn.dummy": "DummyClassifier",
    "sklearn.ensemble": "AdaBoostClassifier AdaBoostRegressor BaggingClassifier BaggingRegressor ExtraTreesClassifier "
    "ExtraTreesRegressor GradientBoostingClassifier GradientBoostingRegressor HistGradientBoostingClassifier "
    "HistGradientBoostingRegressor IsolationForest RandomForestClassifier RandomForestRegressor RandomTreesEmbedding",
    "sklearn.feature_selection": "mutual_info_classif mutual_info_regression",
    "sklearn.gaussian_process": "GaussianProcessClassifier GaussianProcessRegressor",
    "sklearn.inspection": "permutation_importance",
    "sklearn.kernel_approximation": "Nystroem PolynomialCountSketch RBFSampler SkewedChi2Sampler",
    "sklearn.linear_model": "ElasticNet ElasticNetCV Lars Lasso LassoCV LassoLars LogisticRegression "
    "LogisticRegressionCV MultiTaskElasticNet MultiTaskElasticNetCV MultiTaskLasso MultiTaskLassoCV "
    "PassiveAggressiveClassifier PassiveAggressiveRegressor Perceptron RANSACRegressor Ridge RidgeClassifier "
    "SGDClassifier SGDOneClassSVM SGDRegressor TheilSenRegressor",
    "sklearn.manifold": "LocallyLinearEmbedding MDS SpectralEmbedding TSNE locally_linear_embedding smacof "
    "spectral_embedding",
    "sklearn.mixture": "BayesianGaussianMixture GaussianMixture",
    "sklearn.model_selection": "GroupShuffleSplit KFold RandomizedSearchCV RepeatedKFold RepeatedStratifiedKFold "
    "ShuffleSplit StratifiedGroupKFold StratifiedKFold StratifiedShuffleSplit permutation_test_score train_test_split",
    "sklearn.multiclass": "OutputCodeClassifier",
    "sklearn.multioutput": "ClassifierChain RegressorChain",
    "sklearn.neighbors": "NeighborhoodComponentsAnalysis",
    "sklearn.neural_network": "BernoulliRBM MLPClassifier MLPRegressor",
    "sklearn.preprocessing": "TargetEncoder",
    "sklearn.random_projection": "GaussianRandomProjection SparseRandomProjection",
    "sklearn.svm": "LinearSVC LinearSVR NuSVC SVC",
    "sklearn.tree": "DecisionTreeClassifier DecisionTreeRegressor ExtraTreeClassifier ExtraTreeRegressor",
    "sklearn.utils": "resample shuffle",
}
SKLEARN_DRAWS = tuple(f"{module}.{name}" for module, names in SKLEARN_RANDOM.items() for name in names.split())
_ANY = None  # any value given, but None, False or 0
# Those that draw only when an argument asks for it: (its name, the values that draw, or _ANY).
SKLEARN_ONLY_WHEN: dict[str, tuple[str, tuple[object, ...] | None]] = {
    **dict.fromkeys(("KFold", "StratifiedKFold", "StratifiedGroupKFold"), ("shuffle", (True,))),
    "PCA": ("svd_solver", ("arpack", "randomized")),
    "KernelPCA": ("eigen_solver", ("arpack", "randomized")),
    **dict.fromkeys(("LogisticRegression", "LogisticRegressionCV"), ("solver", ("sag", "saga", "liblinear"))),
    **dict.fromkeys(("Ridge", "RidgeClassifier"), ("solver", ("sag", "saga"))),
    **dict.fromkeys(
        word_set("ElasticNet ElasticNetCV Lasso LassoCV MultiTaskElasticNet MultiTaskElasticNetCV MultiTaskLasso")
        | {"MultiTaskLassoCV"},
        ("selection", ("random",)),
    ),
    **dict.fromkeys(("Lars", "LassoLars"), ("jitter", _ANY)),
    **dict.fromkeys(("SVC", "NuSVC"), ("probability", (True,))),
    "NMF": ("init", ("random", "nndsvdar")),
    **dict.fromkeys(("GaussianProcessClassifier", "GaussianProcessRegressor"), ("n_restarts_optimizer", _ANY)),
    **dict.fromkeys(("ClassifierChain", "RegressorChain"), ("order", ("random",))),
    **dict.fromkeys(("LocallyLinearEmbedding", "locally_linear_embedding"), ("eigen_solver", ("arpack",))),
    "NeighborhoodComponentsAnalysis": ("init", ("random",)),
    "DummyClassifier": ("strategy", ("stratified", "uniform")),
    **dict.fromkeys(("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"), ("early_stopping", (True,))),
}
# Those that do not draw when an argument says so: (its name, the values that stop it).
SKLEARN_UNLESS: dict[str, tuple[str, tuple[object, ...]]] = {
    **dict.fromkeys(
        word_set("train_test_split SGDClassifier SGDRegressor SGDOneClassSVM Perceptron PassiveAggressiveClassifier")
        | {"PassiveAggressiveRegressor"},
        ("shuffle", (False,)),
    ),
}
DROPOUT_LAYER_NAMES = word_set("Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout")
TORCH_LAYERS = word_set(
    "Linear Bilinear LazyLinear Embedding EmbeddingBag MultiheadAttention PReLU RNN LSTM GRU RNNCell LSTMCell GRUCell "
    "Transformer TransformerEncoderLayer TransformerDecoderLayer"
) | {f"{conv}{d}d" for conv in ("Conv", "ConvTranspose", "LazyConv", "LazyConvTranspose") for d in (1, 2, 3)}


def sklearn_draws(event: Event, scope: Scope) -> bool:
    """``RandomForestClassifier()``, ``KMeans(3)``, ``train_test_split(X, y)``: no ``random_state``, and (for those
    that draw only on request) asked to draw: ``KFold(5, shuffle=True)``, ``SVC(probability=True)``."""
    call = call_of(event)
    if not is_none(keyword_value(call, "random_state")):
        return False
    name = called(call, scope)
    if name in SKLEARN_UNLESS:
        keyword, stops = SKLEARN_UNLESS[name]
        given = keyword_value(call, keyword)
        if isinstance(given, ast.Constant) and given.value in stops:
            return False
    if name not in SKLEARN_ONLY_WHEN:
        return True
    keyword, draws = SKLEARN_ONLY_WHEN[name]
    given = keyword_value(call, keyword)
    if not isinstance(given, ast.Constant):
        return given is not None  # a value computed at run time may ask for it
    return bool(given.value) if draws is _ANY else given.value in draws


def pandas_sample(event: Event, scope: Scope) -> bool:
    """``df.sample(3)``, ``s.sample(frac=0.5)``: no ``random_state``, so NumPy's global generator. Not
    ``random.Random(0).sample(items, 3)`` (a population and a count) nor a torch shape (``d.sample((5,))``)."""
    call = call_of(event)
    pandas_like = len(call.args) <= 1 and not any(isinstance(a, (ast.Tuple, ast.List)) for a in call.args)
    return (
        on_object(call, scope)
        and pandas_like
        and keyword_value(call, "k") is None
        and is_none(keyword_value(call, "random_state"))
    )


def torch_layer(event: Event, scope: Scope) -> bool:
    """``nn.Linear(3, 4)``: a layer whose construction draws its initial weights (that no ``load_state_dict`` after it
    replaces)."""
    return called(call_of(event), scope) in TORCH_LAYERS and not loaded_after(event, scope)


def init_draw(event: Event, scope: Scope) -> bool:
    """``nn.init.normal_(w)``: with no ``generator=``, its values not replaced by a ``load_state_dict``."""
    return no_generator(event, scope) and not loaded_after(event, scope)


def _dropout_training(call: ast.Call) -> ast.expr | None:
    """What ``F.dropout(x, p, training)`` is given for ``training`` (its default is True)."""
    return argument(call, 2, "training")


def dropout_always(event: Event, scope: Scope) -> bool:
    """``F.dropout(x, 0.5)``, ``F.dropout(x, training=True)``: draws whatever mode the model is in."""
    training = _dropout_training(call_of(event))
    return training is None or is_constant(training, True)


def _mode_dependent(event: Event, scope: Scope) -> bool:
    """``nn.Dropout(0.5)``, or ``F.dropout(x, training=self.training)``: draws in train mode only."""
    call = call_of(event)
    if called(call, scope) in DROPOUT_LAYER_NAMES:
        return True
    training = _dropout_training(call)
    return training is not None and not isinstance(training, ast.Constant)


def _steps_after(event: Event, scope: Scope) -> list[Position]:
    return sorted(step for step in scope.chain.steps if step > event.position)


def dropout_in_training(event: Event, scope: Scope) -> bool:
    """Dropout in a model trained after it was made (a ``.backward()`` or ``.step()`` after it): it drew in training."""
    return _mode_dependent(event, scope) and bool(_steps_after(event, scope))


def dropout_at_inference(event: Event, scope: Scope) -> bool:
    """Dropout in a model not trained here (its weights loaded) and never put in eval mode after it was made: it
    draws at inference."""
    if not _mode_dependent(event, scope) or _steps_after(event, scope):
        return False
    chain, made = scope.chain, event.position
    return not any(e > made and not any(t > e for t in chain.trains) for e in chain.evals)


def first_step(event: Event, scope: Scope) -> Position:
    """Where dropout first drew: the first training step after the model was made."""
    return _steps_after(event, scope)[0]


def in_the_differing_cell(event: Event, scope: Scope) -> Position:
    return (scope.index, *END)
