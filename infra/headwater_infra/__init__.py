"""Headwater's infrastructure as Pulumi components.

``azure/``, ``aws/`` and ``kubernetes/`` hold one ``ComponentResource`` per concern, each
configured by a small ``...Args`` dataclass; ``naming`` knows each cloud's naming rules;
``settings`` checks a stack's configuration; ``profile`` turns stack outputs into the
client profile. The stack programs in ``stacks/`` wire them together.

Importing this package imports nothing from Pulumi; the subpackages do.
"""
