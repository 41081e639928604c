/** An inference server's use of ugm as a library: {@link ugm.example.server.MergingServer}. */
module ugm.example.server {
    requires ugm.io;
    requires java.management;

    exports ugm.example.server;
}
