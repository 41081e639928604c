package ugm.demo;

/** Where the demo's examples come from: the built-in synthetic data or a set of images. */
sealed interface Source permits SyntheticData, ImageData {

    /** The name {@code --data} gives it and results.json records: {@code synthetic}, {@code fashion-mnist}, .... */
    String name();

    /** The data for {@code setup} (its seed chooses the draw or the split). */
    Suite suite(Setup setup);

    /** One or two lines for the table's header, after the model's description. */
    String describe(Setup setup);
}
