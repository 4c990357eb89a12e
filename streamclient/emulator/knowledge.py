"""The account's knowledge bases (KB docs): create, detail, update, delete; names are unique when given."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from streamclient.emulator.api_error import EmulatorApiError

__all__ = ("KnowledgeBases",)


class KnowledgeBases:
    """The knowledge bases by id (``knowledge``); ``id in bases`` tells whether one exists."""

    def __init__(self) -> None:
        self.knowledge: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"KnowledgeBases({len(self.knowledge)})"

    def __contains__(self, knowledge_id: object) -> bool:
        return knowledge_id in self.knowledge

    def create_knowledge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a knowledge base (1003 bad fields, 1233 name exists); ``name`` is optional (KB docs)."""
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 100):
            raise EmulatorApiError(1003, "Parameter error: name must be a string of at most 100 characters")
        name = name or ""
        if name and any(kb["name"] == name for kb in self.knowledge.values()):
            raise EmulatorApiError(1233, "knowledge base already exists")
        now = int(time.time() * 1000)
        kb = {
            "_id": secrets.token_hex(12),
            "team_id": "emulator-team",
            "uid": 1,
            "user_type": 2,
            "name": name,
            "prologue": body.get("prologue", ""),
            "prompt": body.get("prompt", ""),
            "docs": list(body.get("docs") or []),
            "urls": list(body.get("urls") or []),
            "from": 2,
            "create_time": now,
            "update_time": now,
        }
        self.knowledge[kb["_id"]] = kb
        return kb

    def get_knowledge(self, knowledge_id: Any) -> dict[str, Any]:
        """One knowledge base (1003 missing id, 1232 unknown)."""
        if not isinstance(knowledge_id, str) or not knowledge_id:
            raise EmulatorApiError(1003, "Parameter error: id can not be empty")
        kb = self.knowledge.get(knowledge_id)
        if kb is None:
            raise EmulatorApiError(1232, "knowledge base not found")
        return kb

    def update_knowledge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Update the fields given (1232 unknown, 1233 name taken)."""
        kb = self.get_knowledge(body.get("id"))
        name = body.get("name")
        if name is not None and any(k["name"] == name and k is not kb for k in self.knowledge.values()):
            raise EmulatorApiError(1233, "knowledge base already exists")
        for key in ("name", "prologue", "prompt", "docs", "urls"):
            if key in body:
                kb[key] = body[key]
        kb["update_time"] = int(time.time() * 1000)
        return kb

    def delete_knowledge(self, knowledge_id: Any) -> None:
        """Delete a knowledge base (1232 unknown)."""
        self.get_knowledge(knowledge_id)
        del self.knowledge[knowledge_id]
