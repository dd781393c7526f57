"""Video: streaming sessions (``stream``), temporal smoothing (``temporal``), files in and out (``io``),
offline parse jobs (``jobs``) and their evaluation (``evaluation``); each subpackage calls only those after it
in that list's reverse order of dependence: ``evaluation`` > ``jobs`` > ``stream`` > ``temporal``, ``io``."""
