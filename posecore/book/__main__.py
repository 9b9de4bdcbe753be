"""``python -m posecore.book``."""
from .cli import main

raise SystemExit(main())
