"""Partitions: per case for ingestion, case x model configuration for the LLM assets.

The model dimension is read from the routing file when the code location loads, so a model configuration
added to the routing file appears as a partition after a reload, with no code change. It is the one read of the
configuration at import (docs/ARCHITECTURE.md, "Configuration"): through the settings, and through the routing
file's schema, so an invalid file fails the load with the same message the LLM resource would give.
"""

from __future__ import annotations

import dagster as dg

from .llm.routing_file import model_config_names

CASES = "cases"

case_partitions = dg.DynamicPartitionsDefinition(name=CASES)
model_partitions = dg.StaticPartitionsDefinition(model_config_names())
case_model_partitions = dg.MultiPartitionsDefinition({"case": case_partitions, "model": model_partitions})


def case_and_model(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension
    return keys["case"], keys["model"]


# LLM assets (case x model) read the case-level assets of their own case.
by_case_dimension = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="case")
