"""Exports of a selection (WACZ, PDF/A, HTML, XML, EML) and transfer packages (BagIt).

selection.py  what is exported: the overview's search plus the user's restrictions (a hook)
records.py    reading the captured records of the selected pages from the WARC files
base.py       the Exporter interface every format implements, the job, the manifest
wacz.py pdf.py html.py xml.py eml.py   one module per format
run.py        runs the formats into the output directory
transfer.py   `bewaar transfer`: a BagIt bag for the e-depot
cli.py        `bewaar export`, `bewaar transfer`
"""
