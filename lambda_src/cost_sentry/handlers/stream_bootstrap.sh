#!/bin/sh
# AWS_LAMBDA_EXEC_WRAPPER of the streaming gateway function: the Python managed runtime's own loop can
# only return a whole response, so its command line is replaced by Cost Sentry's streaming runtime loop
# (cost_sentry/handlers/stream_runtime.py), on the same interpreter and with the runtime's boto3.
cd "${LAMBDA_TASK_ROOT:-/var/task}" || exit 1
export PYTHONPATH="${LAMBDA_TASK_ROOT:-/var/task}${PYTHONPATH:+:$PYTHONPATH}"
exec "${COST_SENTRY_PYTHON:-python3}" -m cost_sentry.handlers.stream_runtime
