"""The scripts of the real-CASA demo, as an analyst's tools would write them.

``SIMULATE`` makes one execution (an MS with calibrators and a target, thermal noise and drifting
gains) and exports it as an ASDM named by its EB uid.  ``CALIBRATION`` is the per-EB script in the
style of the generated ``uid___..._Xnnn.ms.scriptForCalibration.py``: numbered steps in
``mysteps``, each a CASA task, so that ``scriptForPI.py`` can run it again on the raw data.
``FLUX_CALIBRATION`` and ``IMAGING`` run in ``calibrated/``; ``COMPARE`` checks two MSs row by row.
"""

from __future__ import annotations

BANDPASS = "J1924-2914"  # bandpass and flux calibrator
PHASE = "J1937-2715"  # phase calibrator
TARGET = "IRAS19312+1950"
FIELDS = {  # name: (direction, flux density in Jy)
    BANDPASS: ("J2000 19h24m51.056s -29d14m30.12s", 3.2),
    PHASE: ("J2000 19h37m10.000s -27d15m00.00s", 0.8),
    TARGET: ("J2000 19h34m00.000s -27d40m00.00s", 0.25),
}
SCANS = [(BANDPASS, 60), (PHASE, 24), (TARGET, 60), (PHASE, 24), (TARGET, 60), (PHASE, 24)]  # (field, seconds)

SIMULATE = '''\
# Simulate one ALMA execution of {sb} and export it as the ASDM {uid} (qa2pack demo --casa).
import os
import numpy as np
from casatools import simulator, componentlist, measures, table, ctsys
from casatasks import exportasdm
from casatasks.private import simutil

fields = {fields!r}
scans = {scans!r}
sm, cl, me = simulator(), componentlist(), measures()
config = os.path.join(ctsys.resolve("alma/simmos"), "alma.cycle7.1.cfg")
x, y, z, diameter, names, pads, telescope, position = simutil.simutil().readantenna(config)
sm.open("{uid}.sim.ms")
sm.setconfig(telescopename="ALMA", x=x, y=y, z=z, dishdiameter=diameter.tolist(), mount=["alt-az"],
             antname=list(names), padname=list(pads), coordsystem="global", referencelocation=me.observatory("ALMA"))
sm.setspwindow(spwname="SPW0", freq="97.5GHz", deltafreq="31.25MHz", freqresolution="31.25MHz", nchannels=8,
               stokes="XX YY")
sm.setfeed(mode="perfect X Y", pol=[""])
for name, (direction, flux) in fields.items():
    frame, ra, dec = direction.split()
    sm.setfield(sourcename=name, sourcedirection=me.direction(frame, ra, dec))
    cl.addcomponent(dir=direction, flux=flux, fluxunit="Jy", freq="97.5GHz", shape="point")
cl.rename("{uid}.sim.cl")
cl.close()
sm.setlimits(shadowlimit=0.001, elevationlimit="8.0deg")
sm.setauto(autocorrwt=0.0)
sm.settimes(integrationtime="6s", usehourangle=False, referencetime=me.epoch("UTC", "{start}"))
start = 0
for name, seconds in scans:
    sm.observe(name, "SPW0", starttime=str(start) + "s", stoptime=str(start + seconds) + "s")
    start += seconds
sm.predict(complist="{uid}.sim.cl")
sm.setseed({seed})
sm.setnoise(mode="simplenoise", simplenoise="0.08Jy")
sm.corrupt()
sm.close()

# Drifting antenna gains from a seeded generator, so that every run simulates the same data:
# the simulator's own drifting gains (setgain mode "fbm") ignore setseed and now and then come
# out NaN for the reference antenna, which leaves its solves nothing to work with.
rng = np.random.default_rng({seed})
tb = table()
tb.open("{uid}.sim.ms", nomodify=False)
times, first, second = tb.getcol("TIME"), tb.getcol("ANTENNA1"), tb.getcol("ANTENNA2")
antennas, instants = max(first.max(), second.max()) + 1, np.unique(times)
phase = rng.uniform(-np.pi, np.pi, (antennas, 1)) + np.cumsum(rng.normal(0, 0.05, (antennas, instants.size)), axis=1)
amplitude = 1 + rng.normal(0, 0.05, (antennas, 1)) + np.cumsum(rng.normal(0, 0.005, (antennas, instants.size)), axis=1)
gains = amplitude * np.exp(1j * phase)
at = np.searchsorted(instants, times)
data = tb.getcol("DATA")
tb.putcol("DATA", (data * (gains[first, at] * np.conj(gains[second, at]))).astype(data.dtype))
tb.close()
exportasdm(vis="{uid}.sim.ms", asdm="{uid}", archiveid="A002", rangeid="{range_id}")
'''

CALIBRATION = '''\
# ALMA Data Reduction Script, {uid} of SB {sb}, written for qa2pack demo --casa.
# Calibration
import os
import shutil

import numpy as np

thesteps = []
step_title = {{0: 'Import of the ASDM',
              1: 'Listobs',
              2: 'A priori flagging',
              3: 'Split out the science data',
              4: 'Save the original flags',
              5: 'Bandpass calibration',
              6: 'Set the flux density of the flux calibrator',
              7: 'Gain calibration',
              8: 'Flux scale',
              9: 'Apply the calibration tables',
              10: 'Plot the calibration tables',
              11: 'Split out the calibrated data'}}

try:
    print('List of steps to be executed ...', mysteps)
    thesteps = mysteps
except NameError:
    print('global variable mysteps not set.')
if thesteps == []:
    thesteps = range(0, len(step_title))
    print('Executing all steps: ', thesteps)

vis = '{uid}.ms'
bandpass_field, flux_field, phase_field, science_field = {bandpass!r}, {bandpass!r}, {phase!r}, {target!r}
refant = 'A001'


def remove(*names):
    for name in names:
        shutil.rmtree(name, ignore_errors=True)

mystep = 0
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    remove(vis, vis + '.flagversions')
    importasdm('{uid}', vis=vis, asis='Antenna Station Receiver Source', bdfflags=False)

mystep = 1
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    listobs(vis=vis, listfile=vis + '.listobs', overwrite=True)

mystep = 2
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    flagdata(vis=vis, mode='manual', autocorr=True, flagbackup=False)
    flagdata(vis=vis, mode='manual', spw='*:0', flagbackup=False)  # the edge channel

mystep = 3
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    remove(vis + '.split', vis + '.split.flagversions')
    split(vis=vis, outputvis=vis + '.split', datacolumn='data', keepflags=True)

mystep = 4
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    flagmanager(vis=vis + '.split', mode='save', versionname='Original')

mystep = 5
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    remove(vis + '.split.ap_pre_bandpass', vis + '.split.bandpass')
    gaincal(vis=vis + '.split', caltable=vis + '.split.ap_pre_bandpass', field=bandpass_field, solint='int',
            refant=refant, calmode='p')
    bandpass(vis=vis + '.split', caltable=vis + '.split.bandpass', field=bandpass_field, solint='inf',
             combine='scan', refant=refant, solnorm=True, bandtype='B', gaintable=[vis + '.split.ap_pre_bandpass'])

mystep = 6
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    setjy(vis=vis + '.split', field=flux_field, standard='manual', fluxdensity=[{flux}, 0, 0, 0],
          usescratch=False)

mystep = 7
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    remove(vis + '.split.phase_int', vis + '.split.ampli_inf')
    calibrators = bandpass_field + ',' + phase_field
    gaincal(vis=vis + '.split', caltable=vis + '.split.phase_int', field=calibrators, solint='int',
            refant=refant, calmode='p', gaintable=[vis + '.split.bandpass'])
    gaincal(vis=vis + '.split', caltable=vis + '.split.ampli_inf', field=calibrators, solint='inf',
            refant=refant, calmode='a', gaintable=[vis + '.split.bandpass', vis + '.split.phase_int'])

mystep = 8
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    remove(vis + '.split.flux_inf', vis + '.split.phase_inf')
    fluxscale(vis=vis + '.split', caltable=vis + '.split.ampli_inf', fluxtable=vis + '.split.flux_inf',
              reference=flux_field, transfer=phase_field, listfile=vis + '.split.fluxscale')
    gaincal(vis=vis + '.split', caltable=vis + '.split.phase_inf', field=calibrators, solint='inf',
            refant=refant, calmode='p', gaintable=[vis + '.split.bandpass'])

mystep = 9
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    tables = [vis + '.split.bandpass', vis + '.split.phase_int', vis + '.split.flux_inf']
    applycal(vis=vis + '.split', field=bandpass_field + ',' + phase_field, gaintable=tables,
             gainfield=['', '', ''], interp=['linear', 'linear', 'linear'], calwt=True, flagbackup=False)
    tables[1] = vis + '.split.phase_inf'
    applycal(vis=vis + '.split', field=science_field, gaintable=tables,
             gainfield=['', phase_field, phase_field], interp=['linear', 'linear', 'linear'], calwt=True,
             flagbackup=False)

mystep = 10
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    os.makedirs('qa2', exist_ok=True)
    for part, suffix in enumerate(('bandpass', 'phase_int', 'ampli_inf', 'flux_inf'), start=1):
        tb.open(vis + '.split.' + suffix)
        gains = tb.getcol('CPARAM')
        tb.close()
        figure, axes = plt.subplots()
        values = np.angle(gains[0], deg=True) if suffix == 'phase_int' else np.abs(gains[0])
        axes.plot(values.T if suffix == 'bandpass' else values.flatten(), '.')
        axes.set_title(vis + '.split.' + suffix)
        figure.savefig(vis + '.split.' + suffix + '.png')
        figure.savefig('qa2/qa2_part' + str(part) + '.png')
        plt.close(figure)
    with open('qa2/textfile.txt', 'w') as report:
        report.write('QA2 report for {uid}\\n')
        for line in open(vis + '.split.fluxscale'):
            if 'Flux density for' in line:
                report.write(line.lstrip('# '))

mystep = 11
if mystep in thesteps:
    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')
    print('Step ', mystep, step_title[mystep])
    remove(vis + '.split.cal')
    split(vis=vis + '.split', outputvis=vis + '.split.cal', field=science_field + ',' + phase_field + ','
          + bandpass_field, datacolumn='corrected', keepflags=True)
'''

FLUX_CALIBRATION = '''\
# ALMA Data Reduction Script, SB {sb}: flux calibration, run in calibrated/ (written for qa2pack demo --casa).
# Each EB was put on the flux scale of {bandpass} by its own fluxscale step; this script checks
# the phase calibrator's flux density across the EBs, the check flux equalisation starts from.
import glob

for listing in sorted(glob.glob('*.fluxscale') + glob.glob('*.calibration/*.fluxscale')):
    for line in open(listing):
        if 'Flux density for' in line:
            print(listing + ': ' + line.strip())
            casalog.post(listing + ': ' + line.strip(), 'INFO')
'''

IMAGING = '''\
# ALMA Imaging Script, SB {sb}: the continuum of {target} from every EB (written for qa2pack demo --casa).
import glob
import shutil

mses = sorted(glob.glob('*.ms.split.cal'))
imagename = '{target}.cont'
for suffix in ('.image', '.model', '.pb', '.psf', '.residual', '.sumwt', '.image.pbcor', '.mask'):
    shutil.rmtree(imagename + suffix, ignore_errors=True)
tclean(vis=mses, field='{target}', imagename=imagename, specmode='mfs', imsize=[96, 96], cell='0.8arcsec',
       weighting='briggs', robust=0.5, niter=200, threshold='2mJy', interactive=False, pbcor=True)
exportfits(imagename=imagename + '.image.pbcor', fitsimage=imagename + '.image.pbcor.fits', overwrite=True)
exportfits(imagename=imagename + '.pb', fitsimage=imagename + '.flux.fits', overwrite=True)
'''

COMPARE = '''\
# Compare two calibrated MSs row by row (qa2pack demo --casa): same rows, same columns, data equal.
import json
import numpy as np

def columns(path):
    tb.open(path)
    try:
        names = sorted(tb.colnames())
        data = {{name: tb.getcol(name) for name in ('DATA', 'FLAG', 'TIME', 'ANTENNA1', 'ANTENNA2', 'FIELD_ID')}}
        return tb.nrows(), names, data
    finally:
        tb.close()

results = []
for restored, original in {pairs!r}:
    rows, names, data = columns(restored)
    rows0, names0, data0 = columns(original)
    result = {{'restored': restored, 'original': original, 'rows': rows, 'rows_original': rows0,
              'same_columns': names == names0}}
    if rows == rows0 and names == names0:
        difference = np.abs(data['DATA'] - data0['DATA'])
        scale = max(float(np.abs(data0['DATA']).max()), 1e-30)
        result['max_difference'] = float(difference.max()) / scale
        result['flags_equal'] = bool((data['FLAG'] == data0['FLAG']).all())
        result['metadata_equal'] = all(bool((data[k] == data0[k]).all()) for k in ('TIME', 'ANTENNA1', 'ANTENNA2', 'FIELD_ID'))
        result['equal'] = (result['max_difference'] <= {tolerance!r} and result['flags_equal']
                           and result['metadata_equal'])
    else:
        result['equal'] = False
    results.append(result)
with open({output!r}, 'w') as handle:
    json.dump(results, handle, indent=1)
'''
