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
tracer = Tracer(patch_modules=["botocore"])  # all our AWS calls go through botocore
metrics = Metrics()
