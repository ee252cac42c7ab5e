"""The spine-cds knowledge base: YAML that clinicians review, with its schema and loader."""

from knowledge.loader import Knowledge, KnowledgeError, load_knowledge

__all__ = ["Knowledge", "KnowledgeError", "load_knowledge"]
