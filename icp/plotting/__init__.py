"""Every figure of ICP Lens, one module per analysis.

Plot functions follow one shape: ``plot_x(data, *, ax=None, **kwargs) -> Axes``,
with plain-language titles and axis labels, since leadership reads them.
"""
