var c = 1;
