"""Amazon Bedrock (`bedrock/` models, the Converse API through litellm): credentials come from the AWS chain or
`litellm_params` (`os.environ/VAR`); usage is asked for in the stream; the warm-up signs with dummy keys so boto3
never looks for credentials (no metadata endpoint)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import ProviderAdapter


class BedrockAdapter(ProviderAdapter):
    family: ClassVar[str] = "bedrock"
    stream_usage: ClassVar[bool] = True

    def warm_up_request(self, provider: str) -> dict[str, Any] | None:
        return {"model": "bedrock/converse/warm-up", "api_base": "http://127.0.0.1:9",
                "aws_access_key_id": "warm-up", "aws_secret_access_key": "warm-up", "aws_region_name": "us-east-1"}
