"""JSON Schemas of request bodies and response objects.

Request schemas are enforced by ``validation.py``; all of them are published in
``/openapi.json`` (``openapi.py``). Field lists follow metaflow-service 2.5.1; limits are ours.
"""

from __future__ import annotations

from .paths import CLIENT_ID_PATTERN, ID_PATTERN, MAX_ID_LENGTH, NAME_PATTERN

MAX_ROWS = 10_000  # metadata or artifact rows in one request
MAX_TAGS = 1_000
MAX_TAG_LENGTH = 512
MAX_TEXT = 1024 * 1024  # one metadata value or artifact location
INT32_MAX = 2**31 - 1

# Postgres text cannot hold NUL: every free-text field says so.
NO_NUL = "^[^\\x00]*$"

_short = {"type": "string", "maxLength": MAX_ID_LENGTH, "pattern": NO_NUL}
_user = {"type": ["string", "null"], "maxLength": MAX_ID_LENGTH, "pattern": NO_NUL}
_text = {"type": "string", "maxLength": MAX_TEXT, "pattern": NO_NUL}
_tag_list = {"type": "array", "maxItems": MAX_TAGS,
             "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH,
                       "pattern": NO_NUL}}
_tags = {**_tag_list, "type": ["array", "null"]}
_client_id = {"type": ["string", "null"], "maxLength": MAX_ID_LENGTH,
              "pattern": CLIENT_ID_PATTERN,
              "description": "an id chosen by the client: letters, digits, '_', '.', ':' or "
                             "'-', not all digits (numbers are allocated by the service)"}

# --- request bodies ------------------------------------------------------------------------

_common = {"user_name": _user, "tags": _tags, "system_tags": _tags}

CREATE_FLOW = {"type": "object", "properties": dict(_common)}

CREATE_RUN = {"type": "object", "properties": {
    **_common,
    # a non-numeric id chosen by the client (Argo, Step Functions); numbers are allocated
    "run_number": _client_id,
}}

CREATE_STEP = {"type": "object", "properties": dict(_common)}

CREATE_TASK = {"type": "object", "properties": {**_common, "task_id": _client_id}}

METADATA_ROWS = {"type": "array", "maxItems": MAX_ROWS, "items": {
    "type": "object",
    "required": ["field_name", "value", "type"],
    "properties": {
        "field_name": {**_short, "minLength": 1},
        # metaflow sends some values as JSON (foreach-stack is a list of strings): they are
        # stored as their JSON text; a string is stored as it is
        "value": {**_text, "type": ["string", "array", "object", "number", "boolean"]},
        "type": _short,
        **_common,
    },
}}

ARTIFACT_ROWS = {"type": "array", "maxItems": MAX_ROWS, "items": {
    "type": "object",
    "required": ["name", "location", "ds_type", "sha", "type", "content_type"],
    "properties": {
        "name": {**_short, "pattern": NAME_PATTERN,
                 "description": "a Python identifier (the artifact's attribute name)"},
        "location": _text,
        "ds_type": _short,
        "sha": _short,
        "type": _short,
        "content_type": _short,
        "attempt_id": {"type": ["integer", "null"], "minimum": 0, "maximum": INT32_MAX},
        **_common,
    },
}}

TAG_MUTATION = {"type": "object", "properties": {
    "tags_to_add": _tag_list,
    "tags_to_remove": _tag_list,
}}

# --- responses ------------------------------------------------------------------------------

_ts = {"type": "integer"}
_tags_out = {"type": "array", "items": {"type": "string"}}
_exposed = {"type": ["integer", "string"],
            "description": "the allocated number, or the name the client registered"}
_heartbeat = {"type": ["integer", "null"], "description": "seconds since the epoch"}

FLOW = {"type": "object",
        "required": ["flow_id", "user_name", "ts_epoch", "tags", "system_tags"],
        "properties": {"flow_id": {"type": "string"}, "user_name": {"type": ["string", "null"]},
                       "ts_epoch": _ts, "tags": _tags_out, "system_tags": _tags_out}}

RUN = {"type": "object",
       "required": ["flow_id", "run_number", "user_name", "ts_epoch", "tags", "system_tags",
                    "last_heartbeat_ts"],
       "properties": {"flow_id": {"type": "string"}, "run_number": _exposed,
                      "run_id": {"type": ["string", "null"]},
                      "user_name": {"type": ["string", "null"]},
                      "user": {"type": ["string", "null"]}, "ts_epoch": _ts,
                      "tags": _tags_out, "system_tags": _tags_out,
                      "last_heartbeat_ts": _heartbeat}}

STEP = {"type": "object",
        "required": ["flow_id", "run_number", "step_name", "user_name", "ts_epoch", "tags",
                     "system_tags"],
        "properties": {"flow_id": {"type": "string"}, "run_number": _exposed,
                       "run_id": {"type": ["string", "null"]}, "step_name": {"type": "string"},
                       "user_name": {"type": ["string", "null"]}, "ts_epoch": _ts,
                       "tags": _tags_out, "system_tags": _tags_out}}

TASK = {"type": "object",
        "required": ["flow_id", "run_number", "step_name", "task_id", "user_name", "ts_epoch",
                     "tags", "system_tags", "last_heartbeat_ts"],
        "properties": {"flow_id": {"type": "string"}, "run_number": _exposed,
                       "step_name": {"type": "string"}, "task_id": _exposed,
                       "task_name": {"type": ["string", "null"]},
                       "user_name": {"type": ["string", "null"]}, "ts_epoch": _ts,
                       "tags": _tags_out, "system_tags": _tags_out,
                       "last_heartbeat_ts": _heartbeat}}

METADATA = {"type": "object",
            "required": ["id", "flow_id", "run_number", "step_name", "task_id", "field_name",
                         "value", "type", "user_name", "ts_epoch", "tags", "system_tags"],
            "properties": {"id": {"type": "integer"}, "flow_id": {"type": "string"},
                           "run_number": _exposed, "step_name": {"type": "string"},
                           "task_id": _exposed, "field_name": {"type": "string"},
                           "value": {"type": "string"}, "type": {"type": "string"},
                           "user_name": {"type": ["string", "null"]}, "ts_epoch": _ts,
                           "tags": _tags_out, "system_tags": _tags_out}}

ARTIFACT = {"type": "object",
            "required": ["flow_id", "run_number", "step_name", "task_id", "name", "location",
                         "ds_type", "sha", "type", "content_type", "attempt_id", "user_name",
                         "ts_epoch", "tags", "system_tags"],
            "properties": {"flow_id": {"type": "string"}, "run_number": _exposed,
                           "step_name": {"type": "string"}, "task_id": _exposed,
                           "name": {"type": "string"}, "location": {"type": "string"},
                           "ds_type": {"type": "string"}, "sha": {"type": "string"},
                           "type": {"type": "string"}, "content_type": {"type": "string"},
                           "attempt_id": {"type": "integer"},
                           "user_name": {"type": ["string", "null"]}, "ts_epoch": _ts,
                           "tags": _tags_out, "system_tags": _tags_out}}

TAGS = {"type": "object", "required": ["tags"], "properties": {"tags": _tags_out}}

HEARTBEAT = {"type": "string",
             "description": 'a JSON document encoded as a JSON string, '
                            '"{\\"wait_time_in_seconds\\": 10}", as metaflow-service sends it'}

METADATA_CREATED = {"type": "object", "required": ["metadata_created"],
                    "properties": {"metadata_created": {"type": "integer"}}}

ARTIFACTS_CREATED = {"type": "object", "required": ["artifacts_created"],
                     "properties": {"artifacts_created": {"type": "integer"}}}

PATHSPECS = {"type": "array", "items": {"type": "string"},
             "description": "pathspecs flow/run/step/task of the matching tasks"}

ERROR = {"type": "object", "required": ["error", "message", "status"],
         "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                        "status": {"type": "integer"}}}

READINESS = {"type": "object", "required": ["ready", "database", "schema_version",
                                            "expected_schema_version"],
             "properties": {"ready": {"type": "boolean"}, "database": {"type": "string"},
                            "schema_version": {"type": ["integer", "null"]},
                            "expected_schema_version": {"type": "integer"},
                            "message": {"type": "string"}}}

HEALTH = {"type": "object", "required": ["status", "version"],
          "properties": {"status": {"type": "string"}, "version": {"type": "string"}}}


def array_of(item: dict) -> dict:
    return {"type": "array", "items": item}


# --- query and path parameters --------------------------------------------------------------

QUERY = {
    "metadata_field_name": {"type": "string", "maxLength": MAX_ID_LENGTH, "pattern": NO_NUL},
    "pattern": {"type": "string", "format": "regex", "maxLength": 1024, "pattern": NO_NUL,
                "description": "a regular expression (Postgres' dialect), searched, not "
                               "anchored; an invalid one is a 400"},
}

# Request headers a route reads (besides x-api-key), by name.
HEADERS = {
    "Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH,
                        "pattern": "^[\\x21-\\x7e]+$",
                        "description": "printable ASCII without spaces, e.g. a random "
                                       "UUID (the same key again returns what the first "
                                       "request created)"},
}

NAME_PARAM = {"type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_ID_LENGTH}
ID_PARAM = {"type": "string", "pattern": ID_PATTERN, "maxLength": MAX_ID_LENGTH}
ATTEMPT_PARAM = {"type": "string", "pattern": r"^[0-9]{1,9}$"}
