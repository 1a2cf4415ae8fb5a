# nbgrader configuration for the course. `python -m autograder` loads this file and adds the
# course root and database URL at run time; nbgrader's own command line can use it too
# (`nbgrader autograde --config autograder/nbgrader_config.py ...`).
c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

c.CourseDirectory.course_id = "dl-course"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell that runs longer than this is interrupted and reported; grading continues with the next
# cell, so an endless loop costs its own points only. Our heaviest cell (training a small MLP on
# the digits) takes a few seconds on a 2-core machine.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Keep the kernel's history off disk and its start-up log quiet, so the instructor's terminal shows
# grading progress rather than transport warnings (the same arguments as every other notebook run).
from autograder.notebooks import KERNEL_ARGUMENTS  # noqa: E402

c.Execute.extra_arguments = list(KERNEL_ARGUMENTS)

# nbgrader's Execute step, with the kernel in a sandbox, the grading agent loaded, limits per cell
# and per notebook, and a dying kernel costing only its cell (autograder/execute.py). Everything
# else is nbgrader's own autograde pipeline.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from autograder.execute import GradingExecute  # noqa: E402

c.Autograde.autograde_preprocessors = [
    GradingExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# GradingExecute is an Execute: the Execute settings above apply to it.

# Feedback shows each test's name, visible checks, score and failure message, never a hidden test's
# code or a traceback that could quote it (autograder/feedback.py); nbgrader's own steps stay.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from autograder.feedback import FeedbackExporter, HideHiddenTests  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
c.GenerateFeedback.exporter_class = FeedbackExporter  # nbconvert's HTML, without a slow clean-up pass
