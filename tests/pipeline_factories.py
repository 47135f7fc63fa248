"""Realistic ALMA Science Pipeline runs for the stager tests (seed 000 section 8, seed 003).

The PPR follows the real SciPipeRequest layout (the Cycle-2 PPR in the real-data corpus):
a namespaced root, ProjectSummary/ProposalCode, ProjectStructure with OUSStatusRef,
ProcessingRequests with SESSION_n intents and AsdmIdentifier/AsdmDiskName per EB.
"""

from __future__ import annotations

from pathlib import Path

from qa2pack.casatables import make_asdm, make_fits


def archive(uid: str) -> str:
    return "uid://" + uid[len("uid___"):].replace("_", "/")


def ppr_xml(project: str, run: str, sous: str, gous: str, mous: str, sessions: dict[str, list[str]],
            recipe: str = "hifa_calimage") -> str:
    intents = "".join(
        f"""
                <Intents>
                    <Keyword>{session}</Keyword>
                    <Value>{','.join(archive(eb) for eb in ebs)}</Value>
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
                        <SchedBlockRef entityId="uid://A001/X1284/X265e" entityTypeName="SchedBlock"/>{asdms}
                    </SchedBlockIdentifier>
                </SchedBlockSet>
            </DataSet>
        </ProcessingRequest>
    </ProcessingRequests>
</SciPipeRequest>
"""


def _files(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if name.endswith(".fits"):
            make_fits(folder / name, size=32)
        else:
            (folder / name).write_text(text)


def _mous(root: Path, run: str, sous: str, gous: str, mous: str) -> Path:
    return root / run / f"SOUS_{sous}" / f"GOUS_{gous}" / f"MOUS_{mous}"


CYCLE4 = {
    "project": "2016.1.00001.S",
    "run": "2016.1.00001.S_2017_03_01T10_00_00.000",
    "sous": "uid___A001_X87c_X67",
    "gous": "uid___A001_X87c_X68",
    "mous": "uid___A001_X87c_X69",
    "ebs": ["uid___A002_Xc7111c_X3979", "uid___A002_Xc7111c_X409e"],
}


def cycle4_run(root: Path) -> Path:
    """A Cycle-4 run: unprefixed scripts, PPR_uid___*.xml, <eb>_flagtemplate.txt, flux.csv."""
    c = CYCLE4
    mous = _mous(root, c["run"], c["sous"], c["gous"], c["mous"])
    ppr = ppr_xml(c["project"], c["run"], c["sous"], c["gous"], c["mous"], {"SESSION_1": c["ebs"]})
    products = {
        "PPR_uid___A001_X87c_X6b.xml": ppr,
        "uid___A001_X87c_X69.session_1.caltables.tgz": "caltables",
        "flux.csv": "field,spw,I\nJ1924-2914,16,3.1\n",
        "antennapos.csv": "antenna,x,y,z\n",
        "casa_pipescript.py": "h_init()\nhifa_importdata(vis=['uid___A002_Xc7111c_X3979'])\n",
        "casa_piperestorescript.py": "h_init()\nhifa_restoredata(vis=['uid___A002_Xc7111c_X3979'])\n",
        "casa_commands.log": "hifa_importdata(...)\n",
        "uid___A001_X87c_X69.weblog.tgz": "weblog",
        "uid___A001_X87c_X69.J1924-2914_bp.spw16.mfs.I.pbcor.fits": "",
        "uid___A001_X87c_X69.J1751+0939_ph.spw16.mfs.I.pbcor.fits": "",
    }
    for eb in c["ebs"]:
        products[f"{eb}.ms.flagversions.tgz"] = "flags"
        products[f"{eb}.ms.calapply.txt"] = f"applycal(vis='{eb}.ms')\n"
        products[f"{eb}_flagtemplate.txt"] = "# flag template\n"
    _files(mous / "products", products)
    _files(mous / "working", {"casa-20170301-100000.log": "CASA log\n", "pipeline_stats.json": "{}",
                              "uid___A002_Xc7111c_X3979.ms.listobs.txt": "listobs\n"})
    (mous / "rawdata").mkdir()
    make_asdm(mous / "rawdata" / c["ebs"][0], c["ebs"][0])
    return root / c["run"]


CURRENT = {
    "project": "2017.1.00886.L",
    "run": "2017.1.00886.L_2018_06_01T12_00_00.000",
    "sous": "uid___A001_X1284_X265c",
    "gous": "uid___A001_X1284_X265d",
    "mous": "uid___A001_X1284_X265f",
    "sessions": {"SESSION_1": ["uid___A002_Xc7111c_X3979", "uid___A002_Xc7111c_X409e"],
                 "SESSION_2": ["uid___A002_Xc7111c_X86a7"], "SESSION_3": ["uid___A002_Xc72427_X2dfe"]},
}


def current_run(root: Path, extra: dict[str, str] | None = None) -> Path:
    """A current run: every product named <mous>.<recipe>. or <eb>., as the archive keeps them."""
    c = CURRENT
    m, r = c["mous"], "hifa_calimage"
    mous = _mous(root, c["run"], c["sous"], c["gous"], m)
    ppr = ppr_xml(c["project"], c["run"], c["sous"], c["gous"], m, c["sessions"])
    products = {
        f"{m}.{r}.pprequest.xml": ppr,
        f"{m}.{r}.weblog.tgz": "weblog",
        f"{m}.{r}.casa_commands.log": "hifa_importdata(...)\n",
        f"{m}.{r}.casa_pipescript.py": "h_init()\n",
        f"{m}.{r}.casa_piperestorescript.py": "h_init()\nhifa_restoredata()\n",
        f"{m}.{r}.auxproducts.tgz": "aux",
        f"{m}.{r}.pipeline_manifest.xml": "<piperesults/>\n",
        f"{m}.{r}.pipeline_aquareport.xml": "<AquaReport/>\n",
        f"{m}.J1924-2914_bp.spw16.mfs.I.pbcor.fits": "",
        f"{m}.s38_0.Target.spw16.cube.I.pbcor.fits": "",
        f"{m}.cont.dat": "Field: Target\n",
    }
    for n, _session in enumerate(c["sessions"], 1):
        products[f"{m}.session_{n}.caltables.tgz"] = "caltables"
        products[f"{m}.session_{n}.auxcaltables.tgz"] = "aux caltables"
    for ebs in c["sessions"].values():
        for eb in ebs:
            products[f"{eb}.ms.flagversions.tgz"] = "flags"
            products[f"{eb}.ms.calapply.txt"] = f"applycal(vis='{eb}.ms')\n"
            products[f"{eb}.ms.auxcalapply.txt"] = "# aux\n"
            products[f"{eb}.flagtemplate.txt"] = "# flag template\n"
    products |= extra or {}
    _files(mous / "products", products)
    _files(mous / "working", {"casa-20180601-120000.log": "CASA log\n", f"PPR_{m}.xml": ppr})
    (mous / "rawdata").mkdir()
    return root / c["run"]
