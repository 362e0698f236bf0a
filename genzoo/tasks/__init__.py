"""Tasks and artifacts: what one does with a trained model (sample, complete, trajectories, …), each returning
an artifact that a writer of its kind saves. Callable from Python, the CLI and (later) the studio."""
from .artifacts import Artifact, ImageGrid, PointCloud, Text
from .generation import TASKS, Request, Task, available_tasks, run_task
from .translation import TranslateTask  # noqa: F401  (registers the translate task)
from .writers import write_artifact

__all__ = ["Artifact", "ImageGrid", "PointCloud", "Request", "TASKS", "Task", "Text", "available_tasks", "run_task",
           "write_artifact"]
