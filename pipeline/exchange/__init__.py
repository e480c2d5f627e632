"""Exchange with the level above (liên thông xã → tỉnh → trung ương): the commune's report package and
DHIS2 dataValueSets."""
