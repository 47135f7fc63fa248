"""A real QA2 reduction with real CASA (the optional ``[casa]`` extra): ``qa2pack demo --casa``.

qa2pack itself never imports CASA.  It writes the scripts an analyst would (simulation of the
executions, calibration per EB, flux calibration and imaging) and runs each in a CASA session in
a separate process (:mod:`.session`), the same way it later runs the real ``scriptForPI.py``.
"""
