"""Logger, Tracer and Metrics, created once here and imported by every function.

Logs carry ids, codes and outcomes; never emails, names or reasons.
"""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

# A read that records no metric is normal; Powertools would warn about it on every call.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # all our AWS calls go through botocore
metrics = Metrics()
