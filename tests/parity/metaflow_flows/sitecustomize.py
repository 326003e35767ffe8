"""Makes ``import metaflow`` import Headwater (this folder goes first on PYTHONPATH)."""

import sys

import headwater
import headwater.exception

sys.modules["metaflow"] = headwater
sys.modules["metaflow.exception"] = headwater.exception
