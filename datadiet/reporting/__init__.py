"""Presentation: the plots and markdown of the report and the analyses.

Stages compute rows and arrays and write them as JSON/CSV; the modules here turn those rows into
figures (matplotlib) and markdown sections, and know nothing of stages, configs or workdirs
beyond the paths and values they are given.
"""
