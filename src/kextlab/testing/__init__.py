"""Testing helpers, for kextlab's own tests and for kext authors.

The top layer (ARCHITECTURE.md §1): it may use every other layer and nothing uses
it.  Modules here are imported explicitly, so that optional test dependencies stay
optional:

* ``kextlab.testing.pyscsi_backend``: python-scsi (PyPI ``PYSCSI``) as an independent
  initiator for kextlab's SCSI targets;
* ``kextlab.testing.umibench``: the Marvell UMI HBA driven at register level, the
  driver's part played without a kernel (tests and the SCSI benchmark use it).
"""
