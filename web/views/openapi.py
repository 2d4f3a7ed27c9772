"""The OpenAPI 3 description of /api, served at /api/openapi.json for integrators."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Malformed request", 401: "Missing, unknown or revoked token",
            403: "The token's person may not do this", 404: "No such case or open task",
            409: "Someone else changed the task first; nothing was saved",
            413: "The request is larger than the installation allows",
            422: "The data broke the form's rules; `fields` names each field"}
    return {str(c): _response(text[c], _ERROR) for c in codes}


def document() -> dict[str, Any]:
    task_id = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
    number = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"},
              "example": "TS202611230000001"}
    field = {"name": "field", "in": "path", "required": True, "schema": {"type": "string"},
             "example": "evidence"}
    process = {"name": "process", "in": "path", "required": True,
               "schema": {"type": "string"}, "example": "complaint"}
    upload = {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}}}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Kefu API", "version": "1.0",
                 "description": "Start cases, work tasks and read cases of the Kefu "
                                "customer-service workflows. A token acts as its person "
                                "(create one with `kefu token create USER`). Customer phone "
                                "and ID numbers are masked unless the person handles the "
                                "case's current step or is an auditor; full views are "
                                "recorded in the case history (C12)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/cases": {"post": {
                "summary": "Start a case; the token's person completes its first task with "
                           "`data` (e.g. a complaint's intake form)",
                "operationId": "startCase",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/StartCase"}}}},
                "responses": {"201": _response("The case was started",
                                               {"$ref": "#/components/schemas/Case"}),
                              **_errors(400, 401, 403, 404, 422)}}},
            "/api/messages": {"post": {
                "summary": "Deliver a message (or, with kind `signal`, a signal) from outside "
                           "to the running cases waiting for it; `correlation` narrows a "
                           "message to the cases matching every key (`case_number`, "
                           "`phone`, `sms_id`, or a data variable); `payload` is merged "
                           "into the case's data. The SMS gateway's delivery receipt is the "
                           "message `sms_receipt` with correlation `{\"sms_id\": N}` (the id "
                           "the sender was given) and payload `{\"status\": \"delivered\" | "
                           "\"failed\", \"error\": \"...\"}`: it is recorded on the SMS "
                           "and answered under `receipt`",
                "operationId": "deliverMessage",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string", "enum": ["message", "signal"]},
                        "payload": {"type": "object"},
                        "correlation": {"type": "object"}}}}}},
                "responses": {"200": _response("The cases that took it, and those that "
                                               "matched but were not waiting", {
                    "type": "object", "properties": {
                        "kind": {"type": "string"}, "name": {"type": "string"},
                        "matched": {"type": "array", "items": {"type": "string"}},
                        "not_waiting": {"type": "array", "items": {"type": "string"}}}}),
                    **_errors(400, 401, 403)}}},
            "/api/tasks": {"get": {
                "summary": "My tasks and the tasks I may claim", "operationId": "listTasks",
                "responses": {"200": _response("Tasks", {
                    "type": "object", "properties": {
                        "mine": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
                        "claimable": {"type": "array",
                                      "items": {"$ref": "#/components/schemas/Task"}}}}),
                    **_errors(401)}}},
            "/api/tasks/{task_id}/claim": {"post": {
                "summary": "Claim a task offered to my role", "operationId": "claimTask",
                "parameters": [task_id],
                "responses": {"200": _response("Claimed", {"$ref": "#/components/schemas/Task"}),
                              **_errors(401, 403, 404, 409)}}},
            "/api/tasks/{task_id}/complete": {"post": {
                "summary": "Complete a task with the data of its form",
                "operationId": "completeTask", "parameters": [task_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"],
                    "properties": {"data": {"type": "object"}}}}}},
                "responses": {"200": _response("The case after the task",
                                               {"$ref": "#/components/schemas/Case"}),
                              **_errors(400, 401, 403, 404, 409, 422)}}},
            "/api/tasks/{task_id}/files/{field}": {"post": {
                "summary": "Upload a file for an attachment field of the task's form (checked "
                           "by content and size); put the answer in that field of `data`",
                "operationId": "uploadTaskFile", "parameters": [task_id, field],
                "requestBody": upload,
                "responses": {"201": _response("The stored file",
                                               {"$ref": "#/components/schemas/Attachment"}),
                              **_errors(401, 403, 404, 413, 422)}}},
            "/api/processes/{process}/files/{field}": {"post": {
                "summary": "Upload a file for an attachment field of a process's first form, "
                           "before starting the case",
                "operationId": "uploadStartFile", "parameters": [process, field],
                "requestBody": upload,
                "responses": {"201": _response("The stored file",
                                               {"$ref": "#/components/schemas/Attachment"}),
                              **_errors(401, 403, 404, 413, 422)}}},
            "/api/cases/{number}": {"get": {
                "summary": "Read a case, its data and open tasks", "operationId": "readCase",
                "parameters": [number],
                "responses": {"200": _response("The case", {"$ref": "#/components/schemas/Case"}),
                              **_errors(401, 403, 404)}}},
            "/api/cases/{number}/history": {"get": {
                "summary": "Read a case's history: who, when, what and the data entered",
                "operationId": "readHistory", "parameters": [number],
                "responses": {"200": _response("The history", {
                    "type": "object", "properties": {
                        "case": {"type": "string"},
                        "records": {"type": "array",
                                    "items": {"$ref": "#/components/schemas/Record"}}}}),
                    **_errors(401, 403, 404)}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    text = {"type": "string"}
    nullable = {"type": "string", "nullable": True}
    when = {"type": "string", "format": "date-time"}
    return {
        "Error": {"type": "object", "required": ["code", "message", "fields"], "properties": {
            "code": text, "message": text,
            "fields": {"type": "object", "description": "field name -> messages",
                       "additionalProperties": {"type": "array", "items": text}}}},
        "StartCase": {"type": "object", "required": ["process"], "properties": {
            "process": {"type": "string", "example": "complaint"},
            "data": {"type": "object", "example": {
                "complainant_name": "陈先生", "complainant_phone": "13800138000",
                "channel": "hotline", "category": "fee", "content": "本月话费多扣了 30 元"}}}},
        "Task": {"type": "object", "properties": {
            "id": text, "case": text, "process": text, "step": text, "title": text,
            "role": text, "department": nullable, "candidate_user": nullable,
            "candidate_users": {"type": "array", "items": text, "description":
                                "the people the task is offered to by name (one or several)"},
            "assignee": nullable, "created_at": when,
            "due_at": {"type": "string", "format": "date-time", "nullable": True}}},
        "Case": {"type": "object", "properties": {
            "number": text, "process": text, "state": {"type": "string",
                                                       "enum": ["running", "closed"]},
            "category": nullable, "department": nullable, "owner": nullable,
            "created_at": when,
            "closed_at": {"type": "string", "format": "date-time", "nullable": True},
            "open_tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
            "data": {"type": "object"}}},
        "Attachment": {"type": "object", "properties": {
            "sha256": text, "name": text, "media_type": text, "size": {"type": "integer"}}},
        "Record": {"type": "object", "properties": {
            "seq": {"type": "integer"}, "at": when, "actor": text, "action": text,
            "step": nullable, "title": nullable, "data": {"type": "object"}, "hash": text}},
    }
