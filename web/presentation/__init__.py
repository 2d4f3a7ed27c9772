"""How pages say things: the display layer, languages, forms and list summaries."""
