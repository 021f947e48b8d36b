VALUE = "from site_extra"
