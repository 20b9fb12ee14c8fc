"""Inputs shared by the bad-input tests of the forms and of the commands."""

HUGE = str(10**20)
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
