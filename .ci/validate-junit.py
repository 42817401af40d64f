#!/usr/bin/env python3
"""Validates netsem's JUnit reports against the two schemas CI systems read, with the Python
package xmlschema: windyroad's JUnit.xsd and Jenkins xunit's junit-10.xsd. The schemas are not
part of this repository: `.ci/run` calls this only when NETSEM_JUNIT_XSDS names a directory
holding both. The test that always runs is cli/tests/junit.rs (no Python needed).

    validate-junit.py XSD_DIR REPORT.xml...
"""
import sys, xmlschema
schemas = [xmlschema.XMLSchema(f"{sys.argv[1]}/JUnit.xsd"), xmlschema.XMLSchema(f"{sys.argv[1]}/junit-10.xsd")]
bad = 0
for f in sys.argv[2:]:
    for name, s in zip(["windyroad JUnit.xsd", "Jenkins junit-10.xsd"], schemas):
        try:
            s.validate(f)
            print(f"valid   {name}: {f}")
        except Exception as e:
            bad += 1
            print(f"INVALID {name}: {f}: {e}")
sys.exit(1 if bad else 0)
