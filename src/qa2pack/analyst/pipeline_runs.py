"""Realistic ALMA Science Pipeline runs, in three naming eras, for ``qa2pack demo --pipeline`` and the tests.

The PPR follows the real SciPipeRequest layout (the Cycle-2 PPR in the real-data corpus): a
namespaced root, ProjectSummary/ProposalCode, ProjectStructure with ObsUnitSetRef, ProjectStatusRef
and OUSStatusRef, SESSION_n intents whose EBs are joined by " | " as the pipeline writes them, and
AsdmIdentifier/AsdmDiskName per EB.  Caltables and flag versions are real gzip tars holding the
folders the pipeline exports, and the pipeline manifest has the structure the pipeline's own
writer gives it (``piperesults/ous/session/{caltables,asdm/{finalflags,applycmds}}``).

- ``cycle4_run``: old names (``PPR_uid___*.xml``, unprefixed ``casa_pipescript.py``,
  ``<eb>_flagtemplate.txt``, ``flux.csv``), one session of two EBs.
- ``cycle5_run``: ``<mous>.hifa_calimage.``-prefixed scripts, manifest and weblog beside an old-style
  PPR name, two sessions.
- ``current_run``: every product prefixed, ``*.pprequest.xml``, auxiliary products and AQUA report,
  a session of two EBs and two sessions of one.
"""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..core.record import record
from ..delivery.tarsplit import TarEntry, ustar_header
from .casatables import make_asdm, make_fits

RECIPE = "hifa_calimage"


def archive(uid: str) -> str:
    """Return a uid in the archive's form: ``uid___A001_X1_X2`` -> ``uid://A001/X1/X2``."""
    return "uid://" + uid[len("uid___"):].replace("_", "/")


def ppr_xml(project: str, run: str, sous: str, gous: str, mous: str, sessions: Mapping[str, Sequence[str]],
            recipe: str = RECIPE, separator: str = " | ") -> str:
    """Return a PPR (``SciPipeRequest``) naming the project, the OUS uids and each session's EBs."""
    intents = "".join(
        f"""
                <Intents>
                    <Keyword>{session}</Keyword>
                    <Value>{separator.join(archive(eb) for eb in ebs)}</Value>
                </Intents>""" for session, ebs in sessions.items())
    asdms = "".join(
        f"""
                        <AsdmIdentifier>
                            <AsdmRef>
                                <ExecBlockId>{archive(eb)}</ExecBlockId>
                            </AsdmRef>
                            <AsdmDiskName>{eb}</AsdmDiskName>
                        </AsdmIdentifier>""" for ebs in sessions.values() for eb in ebs)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<SciPipeRequest xmlns:ent="Alma/CommonEntity" xmlns:val="Alma/ValueTypes"
    xmlns:prj="Alma/ObsPrep/ObsProject" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:type="SciPipeRequest">
    <SciPipeRequestEntity entityId="UID_UNASSIGNED" entityTypeName="SciPipeRequest" datamodelVersion="0.1"/>
    <ProjectSummary>
        <ProposalCode>{project}</ProposalCode>
        <ProposalTitle>Test project</ProposalTitle>
        <Observatory>ALMA Joint Observatory</Observatory>
        <Telescope>ALMA</Telescope>
        <ProcessingSite>JAO</ProcessingSite>
        <Mode>CSV</Mode>
        <CreationTime>2018-06-01T12:00:00.000</CreationTime>
    </ProjectSummary>
    <ProjectStructure>
        <ObsUnitSetRef entityId="uid://A001/X1284/X2659" partId="X1676983643" entityTypeName="ObsProject"/>
        <ObsUnitSetTitle>Undefined</ObsUnitSetTitle>
        <ObsUnitSetType>Member</ObsUnitSetType>
        <ProjectStatusRef entityId="uid://A001/X1284/X265a" entityTypeName="ProjectStatus" documentVersion="1"/>
        <OUSStatusRef entityId="{archive(mous)}" entityTypeName="OUSStatus"/>
    </ProjectStructure>
    <ProcessingRequests>
        <ProcessingRequest>
            <ProcessingIntents>
                <Intents>
                    <Keyword>PROCESS</Keyword>
                    <Value>true</Value>
                </Intents>{intents}
                <Intents>
                    <Keyword>INTERFEROMETRY_STANDARD_OBSERVING_MODE</Keyword>
                    <Value>Undefined</Value>
                </Intents>
            </ProcessingIntents>
            <ProcessingProcedure>
                <ProcedureTitle>{recipe}</ProcedureTitle>
                <ProcessingCommand>
                    <Command>hifa_importdata</Command>
                    <ParameterSet/>
                </ProcessingCommand>
            </ProcessingProcedure>
            <DataSet>
                <SchedBlockSet>
                    <SchedBlockIdentifier>
                        <RelativePath>{run}/SOUS_{sous}/GOUS_{gous}/MOUS_{mous}</RelativePath>
                        <SchedBlockRef entityId="uid://A001/X1284/X265e" entityTypeName="SchedBlock"/>
                        <SBStatusRef entityId="uid://A001/X1284/X2660" entityTypeName="SBStatus"/>
                        <SBTitle>Target_a_06_TM1</SBTitle>{asdms}
                    </SchedBlockIdentifier>
                </SchedBlockSet>
            </DataSet>
        </ProcessingRequest>
    </ProcessingRequests>
</SciPipeRequest>
"""


def manifest_xml(mous: str, sessions: Mapping[str, Sequence[str]], caltables: Mapping[str, str],
                 aux_products: str | None = None) -> str:
    """Return a pipeline manifest with the elements and attributes the pipeline's writer gives them."""
    body = []
    for session, ebs in sessions.items():
        lines = [f'    <session name="{session}">',
                 f'      <caltables name="{caltables[session]}" ous_name="{mous}" level="member" session="{session}" '
                 'package="N/A" datatype="caltables" format="tgz"/>']
        for eb in ebs:
            lines += [f'      <asdm name="{eb}" datatype="asdm" format="sdm">',
                      f'        <finalflags name="{eb}.ms.flagversions.tgz" asdm="{eb}" datatype="ms.flagversions" '
                      'format="tgz"/>',
                      f'        <applycmds name="{eb}.ms.calapply.txt" asdm="{eb}" datatype="ms.calapply" '
                      'format="txt"/>',
                      '      </asdm>']
        body += lines + ["    </session>"]
    if aux_products:
        body.append(f'    <aux_products_file name="{aux_products}" level="member" ous="{mous}" package="N/A" '
                    'datatype="auxproducts" format="tgz"/>')
    return "\n".join(['<?xml version="1.0" ?>', f'<piperesults name="{mous}">', f'  <ous name="{mous}">',
                      '    <casaversion name="6.5.4.9"/>', '    <pipeline_version name="2023.1.0.124"/>',
                      f'    <procedure_name name="{RECIPE}"/>', *body, "  </ous>", "</piperesults>", ""])


def tgz_bytes(members: Mapping[str, bytes | None]) -> bytes:
    """Return a gzip tar holding folders (None) and files, as the pipeline's export writes them.

    The headers come from qa2pack's ustar writer, which writes what ``tarfile`` of Python 3.9 and
    later writes (3.8 fills the device fields with zeros): the same bytes, and sizes, everywhere.
    """
    tar = bytearray()
    for name, data in members.items():
        entry = TarEntry(name, len(data or b""), 0, data is None, 0o755 if data is None else 0o644, 1_600_000_000)
        tar += ustar_header(entry) + (data or b"") + bytes(-len(data or b"") % 512)
    tar += bytes(1024)
    tar += bytes(-len(tar) % tarfile.RECORDSIZE)
    return gzip.compress(bytes(tar), compresslevel=9, mtime=0)


def caltables_tgz(ebs: Sequence[str]) -> bytes:
    """Return a session's caltables export: three real-looking tables per EB."""
    members: dict[str, bytes | None] = {}
    for eb in ebs:
        for table in (f"{eb}.ms.hifa_bandpass.s6_3.spw16.solintinf.bcal.tbl", f"{eb}.ms.hifa_timegaincal.s13_2.spw16.tbl",
                      f"{eb}.ms.hif_refant.s4_1.tsyscal.tbl"):
            members[table] = None
            members[f"{table}/table.dat"] = b"caltable " + table.encode()
            members[f"{table}/table.info"] = b"Type = Calibration\n"
    return tgz_bytes(members)


def flagversions_tgz(eb: str) -> bytes:
    """Return an EB's flag versions export (``<eb>.ms.flagversions.tgz``)."""
    folder = f"{eb}.ms.flagversions"
    return tgz_bytes({folder: None, f"{folder}/FLAG_VERSION_LIST": b"Original : original flags\nPipeline_Final\n",
                      f"{folder}/flags.Pipeline_Final": None,
                      f"{folder}/flags.Pipeline_Final/table.dat": b"flags"})


def restore_script(ebs: Sequence[str], sessions: Sequence[str]) -> str:
    """Return a ``casa_piperestorescript.py`` as the pipeline exports it."""
    return ("__rethrow_casa_exceptions = True\nh_init()\ntry:\n"
            f"    hifa_restoredata(vis={list(ebs)!r}, session={list(sessions)!r}, ocorr_mode='ca')\n"
            "finally:\n    h_save()\n")


def _files(folder: Path, files: Mapping[str, str | bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if name.endswith(".fits"):
            make_fits(folder / name, size=32)
        elif isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content)


def _mous(root: Path, run: str, sous: str, gous: str, mous: str) -> Path:
    return root / run / f"SOUS_{sous}" / f"GOUS_{gous}" / f"MOUS_{mous}"


def _session_products(mous: str, sessions: Mapping[str, Sequence[str]]) -> tuple[dict[str, str | bytes], dict[str, str]]:
    """Per-session caltables and per-EB flag versions and apply lists; also session -> caltables name."""
    products: dict[str, str | bytes] = {}
    names = {}
    for keyword, ebs in sessions.items():
        session = keyword.lower()
        names[session] = f"{mous}.{session}.caltables.tgz"
        products[names[session]] = caltables_tgz(ebs)
        for eb in ebs:
            products[f"{eb}.ms.flagversions.tgz"] = flagversions_tgz(eb)
            products[f"{eb}.ms.calapply.txt"] = (f"applycal(vis='/pipeline/working/{eb}.ms', field='', intent='', "
                                                 f"spw='16', gaintable=['/pipeline/working/{eb}.ms.hifa_bandpass"
                                                 ".s6_3.spw16.solintinf.bcal.tbl'])\n")
    return products, names


def _manifest_sessions(sessions: Mapping[str, Sequence[str]]) -> dict[str, Sequence[str]]:
    return {keyword.lower(): ebs for keyword, ebs in sessions.items()}


@record
class RunNames:
    """The names of one pipeline run: project, run folder, the OUS uids, and the EBs of each session."""

    project: str
    run: str
    sous: str
    gous: str
    mous: str
    sessions: dict[str, list[str]]

    @property
    def ebs(self) -> list[str]:
        """Every EB of the run, session by session."""
        return [eb for group in self.sessions.values() for eb in group]


CYCLE4 = RunNames(
    project="2016.1.00001.S",
    run="2016.1.00001.S_2017_03_01T10_00_00.000",
    sous="uid___A001_X87c_X67",
    gous="uid___A001_X87c_X68",
    mous="uid___A001_X87c_X69",
    sessions={"SESSION_1": ["uid___A002_Xc7111c_X3979", "uid___A002_Xc7111c_X409e"]},
)


def cycle4_run(root: Path) -> Path:
    """Build a Cycle-4 run: unprefixed scripts, PPR_uid___*.xml, <eb>_flagtemplate.txt, flux.csv."""
    c = CYCLE4
    m = c.mous
    mous = _mous(root, c.run, c.sous, c.gous, m)
    ppr = ppr_xml(c.project, c.run, c.sous, c.gous, m, c.sessions)
    products, caltables = _session_products(m, c.sessions)
    products.update({
        "PPR_uid___A001_X87c_X6b.xml": ppr,
        "flux.csv": "field,spw,I\nJ1924-2914,16,3.1\n",
        "antennapos.csv": "antenna,x,y,z\n",
        "casa_pipescript.py": "h_init()\nhifa_importdata(vis=['uid___A002_Xc7111c_X3979'])\n",
        "casa_piperestorescript.py": restore_script(c.ebs, ["session_1"] * len(c.ebs)),
        "casa_commands.log": "hifa_importdata(...)\n",
        f"{m}.pipeline_manifest.xml": manifest_xml(m, _manifest_sessions(c.sessions), caltables),
        f"{m}.weblog.tgz": tgz_bytes({"pipeline-20170301T100000/html/index.html": b"<html/>"}),
        f"{m}.J1924-2914_bp.spw16.mfs.I.pbcor.fits": "",
        f"{m}.J1751+0939_ph.spw16.mfs.I.pbcor.fits": "",
    })
    for eb in c.ebs:
        products[f"{eb}_flagtemplate.txt"] = "# flag template\n"
    _files(mous / "products", products)
    _files(mous / "working", {"casa-20170301-100000.log": "CASA log\n", "pipeline_stats.json": "{}",
                              "uid___A002_Xc7111c_X3979.ms.listobs.txt": "listobs\n"})
    (mous / "rawdata").mkdir()
    make_asdm(mous / "rawdata" / c.ebs[0], c.ebs[0])
    return root / c.run


CYCLE5 = RunNames(
    project="2017.1.01355.L",
    run="2017.1.01355.L_2018_10_01T08_00_00.000",
    sous="uid___A001_X1296_X105",
    gous="uid___A001_X1296_X106",
    mous="uid___A001_X1296_X107",
    sessions={"SESSION_1": ["uid___A002_Xc89480_X5f49"], "SESSION_2": ["uid___A002_Xc89480_X67a2"]},
)


def cycle5_run(root: Path) -> Path:
    """Build a Cycle 5-7 run: <mous>.hifa_calimage.-prefixed scripts, manifest, weblog and log; an old PPR name."""
    c = CYCLE5
    m, r = c.mous, RECIPE
    mous = _mous(root, c.run, c.sous, c.gous, m)
    sessions = c.sessions
    ebs = [eb for group in sessions.values() for eb in group]
    products, caltables = _session_products(m, sessions)
    products.update({
        "PPR_uid___A001_X1296_X108.xml": ppr_xml(c.project, c.run, c.sous, c.gous, m, sessions),
        f"{m}.{r}.casa_pipescript.py": "h_init()\nhifa_importdata(vis=[...])\n",
        f"{m}.{r}.casa_piperestorescript.py": restore_script(ebs, ["session_1", "session_2"]),
        f"{m}.{r}.casa_commands.log": "hifa_importdata(...)\n",
        f"{m}.{r}.weblog.tgz": tgz_bytes({"pipeline-20181001T080000/html/index.html": b"<html/>"}),
        f"{m}.{r}.pipeline_manifest.xml": manifest_xml(m, _manifest_sessions(sessions), caltables),
        f"{m}.{r}.flux.csv": "field,spw,I\nJ1924-2914,16,3.1\n",
        f"{m}.J1924-2914_bp.spw16.mfs.I.pbcor.fits": "",
        f"{m}.W43-MM1_sci.spw16.cube.I.pbcor.fits": "",
    })
    for eb in ebs:
        products[f"{eb}.flagtemplate.txt"] = "# flag template\n"
    _files(mous / "products", products)
    _files(mous / "working", {"casa-20181001-080000.log": "CASA log\n"})
    (mous / "rawdata").mkdir()
    return root / c.run


CURRENT = RunNames(
    project="2017.1.00886.L",
    run="2017.1.00886.L_2018_06_01T12_00_00.000",
    sous="uid___A001_X1284_X265c",
    gous="uid___A001_X1284_X265d",
    mous="uid___A001_X1284_X265f",
    sessions={"SESSION_1": ["uid___A002_Xc7111c_X3979", "uid___A002_Xc7111c_X409e"],
              "SESSION_2": ["uid___A002_Xc7111c_X86a7"], "SESSION_3": ["uid___A002_Xc72427_X2dfe"]},
)


def current_run(root: Path, extra: dict[str, str] | None = None) -> Path:
    """Build a current run: every product named <mous>.<recipe>. or <eb>., as the archive keeps them."""
    c = CURRENT
    m, r = c.mous, RECIPE
    mous = _mous(root, c.run, c.sous, c.gous, m)
    sessions = c.sessions
    ppr = ppr_xml(c.project, c.run, c.sous, c.gous, m, sessions)
    ebs = [eb for group in sessions.values() for eb in group]
    per_eb_sessions = [keyword.lower() for keyword, group in sessions.items() for _ in group]
    products, caltables = _session_products(m, sessions)
    products.update({
        f"{m}.{r}.pprequest.xml": ppr,
        f"{m}.{r}.weblog.tgz": tgz_bytes({"pipeline-20180601T120000/html/index.html": b"<html/>"}),
        f"{m}.{r}.casa_commands.log": "hifa_importdata(...)\n",
        f"{m}.{r}.casa_pipescript.py": "h_init()\n",
        f"{m}.{r}.casa_piperestorescript.py": restore_script(ebs, per_eb_sessions),
        f"{m}.{r}.auxproducts.tgz": tgz_bytes({"cont.dat": b"Field: Target\n"}),
        f"{m}.{r}.pipeline_manifest.xml": manifest_xml(m, _manifest_sessions(sessions), caltables,
                                                         f"{m}.{r}.auxproducts.tgz"),
        f"{m}.{r}.pipeline_aquareport.xml": "<AquaReport/>\n",
        f"{m}.J1924-2914_bp.spw16.mfs.I.pbcor.fits": "",
        f"{m}.s38_0.Target.spw16.cube.I.pbcor.fits": "",
        f"{m}.cont.dat": "Field: Target\n",
    })
    for keyword in sessions:
        products[f"{m}.{keyword.lower()}.auxcaltables.tgz"] = tgz_bytes({"aux.tbl/table.dat": b"aux"})
    for eb in ebs:
        products[f"{eb}.ms.auxcalapply.txt"] = "# aux\n"
        products[f"{eb}.flagtemplate.txt"] = "# flag template\n"
    products.update(extra or {})
    _files(mous / "products", products)
    _files(mous / "working", {"casa-20180601-120000.log": "CASA log\n", f"PPR_{m}.xml": ppr})
    (mous / "rawdata").mkdir()
    return root / c.run


ERAS = {"cycle4": (cycle4_run, CYCLE4), "cycle5": (cycle5_run, CYCLE5), "current": (current_run, CURRENT)}
