"""LiteLLM proxy callback: one StandardLoggingPayload per call, one JSON line each,
appended to $SLP_LOG — the proxy's own record of tokens and costs, which the
real-gateway test compares with what routesim stored.

Referenced from proxy_config.yaml as `routesim_slp_log.proxy_handler_instance`
(LiteLLM imports it from the config file's folder).
"""
import json
import os
import threading

from litellm.integrations.custom_logger import CustomLogger

_PATH = os.environ.get("SLP_LOG", "litellm_standard_logging.jsonl")
_LOCK = threading.Lock()


def _write(kwargs):
    slp = kwargs.get("standard_logging_object")
    if slp is None:
        slp = {"_missing_standard_logging_object": True, "model": kwargs.get("model")}
    line = json.dumps(slp, default=str)
    with _LOCK:
        with open(_PATH, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class SLPFileLogger(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        _write(kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        _write(kwargs)


proxy_handler_instance = SLPFileLogger()
