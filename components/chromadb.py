"""ChromaDB StatefulSet (the compute-tier issue builds the component)."""

from __future__ import annotations

from pydantic import Field

from components.common import ConfigModel


class ChromaDbConfig(ConfigModel):
    image: str = "chromadb/chroma:0.5.23"
    memory: str = Field(default="4Gi", pattern=r"^\d+(Mi|Gi)$")
    storage_gib: int = Field(default=50, ge=1, le=16384)
