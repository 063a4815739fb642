"""Host software: the driver that programs keys through the control registers
(:mod:`.driver`) and the generators of the register documents (:mod:`.regmap_docs`)."""
