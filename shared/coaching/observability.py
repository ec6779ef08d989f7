"""Logger, Tracer and Metrics, created once here and imported by every function.

Logs carry ids, codes and outcomes; never emails, names or reasons. Traces carry timings and
annotations only: every handler decorator turns off capturing responses and errors (their
bodies and messages hold personal data), and the template says the same to Powertools.
"""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

# A read that records no metric is normal; Powertools would warn about it on every call.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
metrics = Metrics()


def __getattr__(name: str) -> Tracer:
    """``tracer``, created by the first import of it (PEP 562), not by importing this module.

    Creating it loads the X-Ray SDK and patches botocore, so that every AWS call is traced: a
    function that calls AWS imports ``tracer`` at its cold start and pays that there, as before;
    one that never calls AWS (docs) does not import it and skips that cost.
    """
    if name != "tracer":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    tracer = Tracer(patch_modules=["botocore"])  # all our AWS calls go through botocore
    globals()["tracer"] = tracer  # later imports find it without coming here
    return tracer
