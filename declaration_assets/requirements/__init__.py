"""Legal requirements per case type, as data: `load_requirements("vawa").elements`, `.length.min_words`."""

from .loader import RequirementsError, available_case_types, load_requirements, load_requirements_file, requirements_dir
from .models import CaseRequirements, Element, LengthBounds

__all__ = [
    "CaseRequirements",
    "Element",
    "LengthBounds",
    "RequirementsError",
    "available_case_types",
    "load_requirements",
    "load_requirements_file",
    "requirements_dir",
]
