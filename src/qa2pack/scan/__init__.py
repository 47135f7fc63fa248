"""Read the reduction tree once and say what each folder is: probing, classifying, finding members."""
