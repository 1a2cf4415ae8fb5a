"""Sphinx configuration of the course website (built by tools/build_site.py, which stages the executed
notebooks, the released assignments and the generated syllabus next to this file)."""

project = "Deep learning from the ground up"
author = "the course's authors"
copyright = "the course's authors, MIT licence"

extensions = ["myst_nb", "sphinx_book_theme"]
exclude_patterns = ["_build", "_notebooks", "_released", "**.ipynb_checkpoints", "conf.py"]
master_doc = "index"

# The notebooks are executed by tools/build_site.py (in parallel, with the notebook's and cell's names
# in any error, and `interact` turned into precomputed frames); MyST-NB renders what they produced.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget manager from a CDN: interactive plots are precomputed frames
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_update_mathjax = False  # its MathJax-3 settings would leave MathJax 2 ignoring every page
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header", "misc.highlighting_failure"]

# MathJax from the site itself (a copy of jupyter-server-mathjax's MathJax 2, copied into _static).
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processRefs": False,
        "processEnvironments": False,
    },
    # jupyter-server-mathjax ships the STIX-Web fonts only (not MathJax's default TeX fonts)
    "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None, "preferredFont": None},
    "SVG": {"font": "STIX-Web"},
    "menuSettings": {"zoom": "None"},
    "MathMenu": {"showRenderer": False},
}

html_theme = "sphinx_book_theme"
html_title = project
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_theme_options = {
    "use_download_button": False,  # each page links its own (output-free) notebook instead
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "home_page_in_toc": True,
}
